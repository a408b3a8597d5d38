package org.dsparse.simulator;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.core.cli.Flags;

/**
 * A simulated device in its own JVM: joins the cluster, then lives until its parent closes stdin, or
 * until its node leaves the cluster (exit code 3).
 * It binds {@code --host} (default 127.0.0.1): with shaped links, its own address.
 */
public final class DeviceProcess {
  private DeviceProcess() {}

  public static void main(String[] args) throws IOException {
    org.dsparse.training.trainer.DjlDefaults.apply();
    Flags flags = Flags.parse("device-process", args, Set.of("name", "budget", "seed", "compute-slowdown", "host"),
        Set.of());
    DsparseNode node = DsparseNode.start(NodeConfig.node(ConfigFactory.load(),
        flags.get("name").orElseThrow(), flags.get("host", ShapedLinks.COORDINATOR_HOST), 0, List.of(),
        flags.get("budget").orElseThrow(), true),
        SlowedCompute.of(Compute.DJL_THREAD, flags.getDouble("compute-slowdown", 1)));
    node.join(flags.get("seed").orElseThrow());
    node.awaitUp(Duration.ofSeconds(300));
    System.out.println(ProcessCluster.READY + node.address());
    System.out.flush();
    // Downed by the cluster (e.g. after it was cut off for longer than the split-brain resolver
    // waits): the node is gone for good, and so is this process; a new one joins as a new device.
    java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    node.system().getWhenTerminated().thenRun(() -> {
      if (closing.get()) {
        return;
      }
      System.out.println("device " + flags.get("name").orElseThrow() + ": its node left the cluster; exiting");
      System.out.flush();
      Runtime.getRuntime().halt(3);
    });
    while (System.in.read() >= 0) {
      // Parent alive; nothing to read.
    }
    closing.set(true);
    node.close();
    System.exit(0);
  }
}
