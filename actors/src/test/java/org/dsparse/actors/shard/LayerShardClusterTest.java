package org.dsparse.actors.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.GetClusterShardingStats;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.dsparse.actors.shard.LayerShard.Assigned;
import org.dsparse.actors.shard.LayerShard.GetHome;
import org.dsparse.actors.shard.LayerShard.GetWeights;
import org.dsparse.actors.shard.LayerShard.StoreWeights;
import org.dsparse.actors.shard.LayerShard.WeightsSnapshot;
import org.dsparse.core.placement.ShardDemand;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Layer shards on a real in-JVM cluster over Artery, one scenario in order: placement on three
 * devices, weights across nodes, a device leaving, a preferred device joining.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LayerShardClusterTest {
  private static final long MB = 1 << 20;
  private static final Duration ASK = Duration.ofSeconds(10);
  private static final Duration EVENTUALLY = Duration.ofSeconds(30);
  private static final Config CONFIG = ConfigFactory.parseString("""
      pekko {
        loglevel = WARNING
        actor.provider = cluster
        remote.artery.canonical { hostname = 127.0.0.1, port = 0 }
        cluster {
          jmx.multi-mbeans-in-same-jvm = on
          # Every node here stands for a device, so it hosts shards.
          roles = [device]
          # Nodes here leave gracefully; nobody is downed.
          downing-provider-class = ""
        }
        coordinated-shutdown.exit-jvm = off
      }
      dsparse.shard.rebalance-interval = 500 ms
      """).withFallback(ConfigFactory.load());

  // free = budget - reserved: a 10 MB, b 80 MB, c 30 MB; d (joins later) 40 MB.
  private static final ShardDemand G1 = new ShardDemand("g1", 20 * MB, List.of("a", "c", "d"));
  private static final ShardDemand G2 = new ShardDemand("g2", 5 * MB, List.of("a"));
  private static final ShardDemand G3 = new ShardDemand("g3", 40 * MB, List.of("a", "c"));

  private final List<ActorTestKit> nodes = new ArrayList<>();

  @BeforeAll
  void startCluster() throws Exception {
    startDevice("a", 100 * MB, 90 * MB);
    startDevice("b", 100 * MB, 20 * MB);
    startDevice("c", 100 * MB, 70 * MB);
    awaitRegisteredRegions(3);
  }

  @AfterAll
  void stopCluster() {
    // Newest first, so that the shard coordinator (on the oldest node) outlives every hand-off.
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).shutdownTestKit();
    }
  }

  @Test
  @Order(1)
  void shardsLandOnlyWhereTheirWeightsFitPreferringUpdaters() throws Exception {
    ActorSystem<?> coordinator = node(0);
    assertEquals("c", assign(coordinator, G1).homeDevice(),
        () -> "a updates g1 but has 10 MB free; c has 30; " + replicas());
    assertEquals("a", assign(coordinator, G2).homeDevice(), () -> "a has room for g2; " + replicas());
    assertEquals("b", assign(coordinator, G3).homeDevice(),
        () -> "no updater of g3 has 40 MB left; b has 80; " + replicas());

    Assigned g1 = home(node(1), "g1");
    assertEquals(new Assigned("g1", "c", addressOf(node(2))), g1);
  }

  @Test
  @Order(2)
  void everyNodesReplicaHoldsEveryDeviceAndDemand() {
    TestProbe<Object> probe = nodes.get(2).createTestProbe();
    probe.awaitAssert(EVENTUALLY, Duration.ofMillis(100), () -> {
      DirectorySnapshot replica = DeviceDirectory.get(node(2)).read().toCompletableFuture().get(5, TimeUnit.SECONDS);
      assertEquals(new DeviceEntry("a", addressOf(node(0)), 100 * MB, 90 * MB), replica.devices().get("a"));
      assertEquals(3, replica.devices().size());
      assertEquals(G3, replica.demands().get("g3"), () -> replicas());
      assertEquals(3, replica.demands().size());
      return null;
    });
  }

  @Test
  @Order(3)
  void weightsRoundTripAcrossNodes() throws Exception {
    LayerShard.shardOf(node(0), "g1").tell(new StoreWeights(3, new float[] {1, 2, 3}));
    TestProbe<Object> probe = nodes.get(1).createTestProbe();
    WeightsSnapshot stored = probe.awaitAssert(EVENTUALLY, Duration.ofMillis(100), () -> {
      WeightsSnapshot snapshot = weights(1, "g1");
      assertEquals(3, snapshot.version());
      return snapshot;
    });
    assertEquals("g1", stored.groupId());
    assertArrayEquals(new float[] {1, 2, 3}, stored.weights());

    // From one sender the two messages arrive in order, so the answer reflects the older store.
    LayerShard.shardOf(node(0), "g1").tell(new StoreWeights(2, new float[] {9}));
    WeightsSnapshot after = weights(0, "g1");
    assertEquals(3, after.version(), "an older version must not replace a newer one");
    assertArrayEquals(new float[] {1, 2, 3}, after.weights());

    WeightsSnapshot empty = weights(0, "g3");
    assertFalse(empty.hasWeights());
    assertEquals(0, empty.weights().length);
  }

  @Test
  @Order(4)
  void weightsLargerThanAnArteryFrameTravelInParts() throws Exception {
    float[] large = new float[100_000]; // 400 KB: above the 256 KiB frame, over four 128 KiB parts
    for (int i = 0; i < large.length; i++) {
      large[i] = i * 0.5f;
    }
    LayerShard.storeState(node(2), "g3", 7, large, List.of(new float[] {-1, -2}, new float[] {-3}), 11);
    TestProbe<Object> probe = nodes.get(0).createTestProbe();
    WeightsSnapshot fetched = probe.awaitAssert(EVENTUALLY, Duration.ofMillis(100), () -> {
      WeightsSnapshot snapshot = LayerShard.fetchState(node(0), "g3", List.of(0, 1), ASK).toCompletableFuture()
          .get(20, TimeUnit.SECONDS);
      assertEquals(7, snapshot.version());
      return snapshot;
    });
    assertEquals("g3", fetched.groupId());
    assertArrayEquals(large, fetched.weights());
    assertArrayEquals(new float[] {-1, -2, -3}, fetched.optimizer(), "the optimizer state comes apart from the weights");
    assertEquals(11, fetched.optimizerUpdates());
  }

  @Test
  @Order(5)
  void aLeavingDevicesShardsComeBackOnSurvivorsAndTakeWeights() throws Exception {
    ActorTestKit leaving = nodes.get(2);
    Address leavingAddress = Cluster.get(leaving.system()).selfMember().address();
    leaving.shutdownTestKit();
    TestProbe<Object> probe = nodes.get(0).createTestProbe();
    probe.awaitAssert(EVENTUALLY, Duration.ofMillis(200), () -> {
      boolean present = StreamSupport.stream(Cluster.get(node(0)).state().getMembers().spliterator(), false)
          .anyMatch(m -> m.address().equals(leavingAddress));
      assertFalse(present, "c is still a member");
      return null;
    });

    Assigned g1 = home(node(0), "g1");
    assertEquals("b", g1.homeDevice(), "c is gone, updater a has no room, b has 40 MB left");
    assertEquals(3, weights(1, "g1").version(), "a device leaving gracefully hands its shards' weights over");
    LayerShard.shardOf(node(1), "g1").tell(new StoreWeights(5, new float[] {5, 5, 0.5f}, 2, 4, new int[] {1}));
    probe.awaitAssert(EVENTUALLY, Duration.ofMillis(200), () -> {
      assertEquals(5, weights(0, "g1").version());
      return null;
    });
    assertEquals("a", home(node(1), "g2").homeDevice());
    assertEquals("b", home(node(1), "g3").homeDevice());
  }

  @Test
  @Order(6)
  void aJoiningUpdaterWithRoomTakesItsShardWithItsWeights() throws Exception {
    ActorSystem<?> joined = startDevice("d", 100 * MB, 60 * MB);
    awaitRegisteredRegions(3);
    TestProbe<Object> probe = nodes.get(0).createTestProbe();
    probe.awaitAssert(EVENTUALLY, Duration.ofMillis(250), () -> {
      assertEquals(new Assigned("g1", "d", addressOf(joined)), home(node(0), "g1"));
      return null;
    });
    WeightsSnapshot handedOver = weights(1, "g1");
    assertEquals(5, handedOver.version(), "the old home hands its weights to the new one");
    assertArrayEquals(new float[] {5, 5}, handedOver.weights());
    assertArrayEquals(new float[] {0.5f}, handedOver.optimizer(), "and the optimizer state with them");
    assertEquals(4, handedOver.optimizerUpdates());
    assertEquals("a", home(joined, "g2").homeDevice(), "shards already on an updater stay");
    assertEquals("b", home(joined, "g3").homeDevice(), "d does not update g3, so g3 stays");
  }

  @Test
  @Order(7)
  void aDemandTheCoordinatorHasNotHeardOfYetIsReadFromTheOtherMembers() throws Exception {
    // Written on b alone; gossip would take a while to bring it to the coordinator's node a.
    ShardDemand g4 = new ShardDemand("g4", 10 * MB, List.of("d"));
    TestProbe<Replicator.UpdateResponse<LWWMap<String, PublishedDemand>>> written = nodes.get(1).createTestProbe();
    SelfUniqueAddress b = DistributedData.get(node(1)).selfUniqueAddress();
    DistributedData.get(node(1)).replicator().tell(new Replicator.Update<>(DeviceDirectory.DEMANDS, LWWMap.create(),
        Replicator.writeLocal(), written.getRef(), map -> map.put(b, "g4", new PublishedDemand(g4))));
    assertInstanceOf(Replicator.UpdateSuccess.class, written.receiveMessage());

    assertEquals("d", home(node(1), "g4").homeDevice(), "d updates g4 and has 20 MB left; b, with 40, does not");
  }

  private ActorSystem<?> startDevice(String device, long budget, long reserved) throws Exception {
    ActorTestKit node = ActorTestKit.create("shards", CONFIG);
    nodes.add(node);
    Cluster.get(node.system()).manager().tell(Join.create(Cluster.get(node(0)).selfMember().address()));
    TestProbe<Object> probe = node.createTestProbe();
    probe.awaitAssert(EVENTUALLY, Duration.ofMillis(100), () -> {
      assertEquals(MemberStatus.up(), Cluster.get(node.system()).selfMember().status());
      return null;
    });
    LayerShard.init(node.system());
    DeviceDirectory.get(node.system()).announce(new DeviceEntry(device, addressOf(node.system()), budget, reserved))
        .toCompletableFuture().get(20, TimeUnit.SECONDS);
    awaitEveryReplicaHoldsEveryDevice();
    return node.system();
  }

  /**
   * A node that has just joined may announce itself before its replicator knows the others, and the
   * older nodes' entries reach it by gossip; each step of the scenario starts from a settled directory.
   */
  private void awaitEveryReplicaHoldsEveryDevice() {
    nodes.get(0).createTestProbe().awaitAssert(EVENTUALLY, Duration.ofMillis(100), () -> {
      for (ActorTestKit node : nodes) {
        if (node.system().getWhenTerminated().toCompletableFuture().isDone()) {
          continue; // a device that left; its entry stays in the directory
        }
        DirectorySnapshot replica = DeviceDirectory.get(node.system()).read().toCompletableFuture()
            .get(5, TimeUnit.SECONDS);
        assertEquals(nodes.size(), replica.devices().size(), () -> node.system().address() + " holds " + replica);
      }
      return null;
    });
  }

  /** Waits until the shard coordinator knows {@code count} regions, so that all are candidates. */
  private void awaitRegisteredRegions(int count) {
    TestProbe<ShardRegion.ClusterShardingStats> stats = nodes.get(0).createTestProbe();
    stats.awaitAssert(EVENTUALLY, Duration.ofMillis(200), () -> {
      ClusterSharding.get(node(0)).shardState()
          .tell(new GetClusterShardingStats(LayerShard.TYPE_KEY, Duration.ofSeconds(3), stats.getRef()));
      assertEquals(count, stats.receiveMessage(Duration.ofSeconds(5)).getRegions().size());
      return null;
    });
  }

  /** What each node's replica of the directory holds now, for failure messages. */
  private String replicas() {
    StringBuilder replicas = new StringBuilder("replicas:");
    for (ActorTestKit node : nodes) {
      String held;
      try {
        held = DeviceDirectory.get(node.system()).read().toCompletableFuture().get(5, TimeUnit.SECONDS).toString();
      } catch (Exception e) {
        held = "unreadable (" + e + ")";
      }
      replicas.append(' ').append(node.system().address()).append(" -> ").append(held);
    }
    return replicas.toString();
  }

  private ActorSystem<?> node(int i) {
    return nodes.get(i).system();
  }

  private static String addressOf(ActorSystem<?> system) {
    return Cluster.get(system).selfMember().address().toString();
  }

  private static Assigned assign(ActorSystem<?> system, ShardDemand demand) throws Exception {
    return LayerShard.assign(system, demand, ASK).toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  /** Asked from {@code system} with a reply-to on it, so request and reply cross Artery when the home is elsewhere. */
  private static Assigned home(ActorSystem<?> system, String groupId) throws Exception {
    return LayerShard.shardOf(system, groupId).<Assigned>ask(GetHome::new, ASK)
        .toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private WeightsSnapshot weights(int from, String groupId) throws Exception {
    return LayerShard.shardOf(node(from), groupId).<WeightsSnapshot>ask(GetWeights::new, ASK)
        .toCompletableFuture().get(20, TimeUnit.SECONDS);
  }
}
