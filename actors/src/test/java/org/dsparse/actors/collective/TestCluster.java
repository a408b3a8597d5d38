package org.dsparse.actors.collective;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

/** N ActorSystems in this JVM joined into one cluster over Artery on 127.0.0.1. */
final class TestCluster implements AutoCloseable {
  private final List<ActorTestKit> nodes = new ArrayList<>();

  TestCluster(String name, int size) {
    this(name, size, "");
  }

  /** {@code overrides}: HOCON applied on top of {@code collective-test.conf} on every node. */
  TestCluster(String name, int size, String overrides) {
    Config config = ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.parseResources("collective-test.conf"))
        .withFallback(ConfigFactory.load());
    for (int i = 0; i < size; i++) {
      nodes.add(ActorTestKit.create(name, config));
    }
    Address first = address(0);
    for (ActorTestKit node : nodes) {
      Cluster.get(node.system()).manager().tell(Join.create(first));
    }
    TestProbe<Object> probe = nodes.get(0).createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(30), Duration.ofMillis(100), () -> {
      for (ActorTestKit node : nodes) {
        long up = StreamSupport.stream(Cluster.get(node.system()).state().getMembers().spliterator(), false)
            .filter(m -> m.status() == MemberStatus.up()).count();
        if (up != size) {
          throw new AssertionError(node.system().name() + " sees " + up + "/" + size + " members up");
        }
      }
      return null;
    });
  }

  ActorTestKit node(int i) {
    return nodes.get(i);
  }

  int size() {
    return nodes.size();
  }

  Address address(int i) {
    return Cluster.get(nodes.get(i).system()).selfMember().address();
  }

  /** A group over the given nodes, ranks in the order given. */
  GroupSpec group(String groupId, int... nodeIndices) {
    return new GroupSpec(groupId, IntStream.of(nodeIndices).mapToObj(this::address).toList());
  }

  GroupSpec groupOfAll(String groupId) {
    return group(groupId, IntStream.range(0, size()).toArray());
  }

  /** Spawns the group actor of {@code spec} on every member node; index = rank. */
  List<ActorRef<ProcessGroup.Command>> spawn(GroupSpec spec) {
    List<ActorRef<ProcessGroup.Command>> refs = new ArrayList<>();
    for (Address member : spec.members()) {
      ActorTestKit node = nodes.get(indexOf(member));
      refs.add(node.spawn(ProcessGroup.create(spec), ProcessGroup.actorName(spec.groupId())));
    }
    return refs;
  }

  int indexOf(Address address) {
    for (int i = 0; i < nodes.size(); i++) {
      if (address(i).equals(address)) {
        return i;
      }
    }
    throw new IllegalArgumentException("no node at " + address);
  }

  /** {@code ref} as node {@code i} sees it, so that messages to it cross Artery and get serialized. */
  <T> ActorRef<T> seenFrom(int i, ActorRef<T> ref, ActorTestKit owner) {
    String serialized = ActorRefResolver.get(owner.system()).toSerializationFormat(ref);
    return ActorRefResolver.get(nodes.get(i).system()).resolveActorRef(serialized);
  }

  void stop(int i) {
    nodes.get(i).shutdownTestKit();
  }

  @Override
  public void close() {
    for (ActorTestKit node : nodes) {
      node.shutdownTestKit();
    }
  }
}
