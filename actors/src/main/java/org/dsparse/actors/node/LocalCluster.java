package org.dsparse.actors.node;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.actors.step.Compute;

/**
 * Several nodes in this JVM, joined over Artery on loopback: the simulator's in-JVM mode and the
 * tests' cluster. Devices in one JVM share its DJL thread, so their compute takes turns.
 */
public final class LocalCluster implements AutoCloseable {
  private final Config base;
  private final List<DsparseNode> nodes;

  private LocalCluster(Config base, List<DsparseNode> nodes) {
    this.base = base;
    this.nodes = new java.util.concurrent.CopyOnWriteArrayList<>(nodes);
  }

  /**
   * A device to start.
   *
   * @param budget {@code 512MiB} or a byte count
   * @param compute where its steps' model work runs (the simulator slows some devices down)
   */
  public record Member(String name, String budget, Compute compute) {
    public Member(String name, String budget) {
      this(name, budget, Compute.DJL_THREAD);
    }
  }

  /** Starts one node per member on 127.0.0.1 and waits until all are Up. */
  public static LocalCluster start(Config base, List<Member> members, Duration joinTimeout) {
    List<DsparseNode> started = new ArrayList<>();
    try {
      for (Member member : members) {
        DsparseNode node = DsparseNode.start(NodeConfig.node(base, member.name(), "127.0.0.1", 0, List.of(),
            member.budget(), false), member.compute());
        started.add(node);
        node.join(started.get(0).address());
      }
      for (DsparseNode node : started) {
        node.awaitUp(joinTimeout);
      }
      return new LocalCluster(base, started);
    } catch (RuntimeException e) {
      started.forEach(DsparseNode::close);
      throw e;
    }
  }

  /** Starts one more device, joins it to the cluster and waits until it is Up: a device joining a running job. */
  public DsparseNode add(Member member, Duration joinTimeout) {
    DsparseNode node = DsparseNode.start(NodeConfig.node(base, member.name(), "127.0.0.1", 0, List.of(),
        member.budget(), false), member.compute());
    try {
      DsparseNode seed = nodes.stream().filter(n -> !n.system().getWhenTerminated().toCompletableFuture().isDone()).findFirst()
          .orElseThrow(() -> new IllegalStateException("no node of the cluster is running"));
      node.join(seed.address());
      node.awaitUp(joinTimeout);
    } catch (RuntimeException e) {
      node.close();
      throw e;
    }
    nodes.add(node);
    return node;
  }

  public List<DsparseNode> nodes() {
    return nodes;
  }

  public DsparseNode node(int index) {
    return nodes.get(index);
  }

  @Override
  public void close() {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).close();
    }
  }
}
