package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ReduceOp;
import org.junit.jupiter.api.Test;

/** Data listeners behind a firewall: every group's listener takes a port of the configured range. */
class DataPortRangeTest {

  /** The first of {@code count} consecutive ports free on loopback now. */
  private static int freeRange(int count) throws IOException {
    for (int first = 31_000; first < 60_000; first += count) {
      List<ServerSocket> held = new ArrayList<>();
      try {
        for (int p = first; p < first + count; p++) {
          ServerSocket socket = new ServerSocket();
          held.add(socket);
          socket.bind(new InetSocketAddress("127.0.0.1", p));
        }
        return first;
      } catch (IOException taken) {
        // try the next range
      } finally {
        for (ServerSocket socket : held) {
          socket.close();
        }
      }
    }
    throw new IOException("no " + count + " consecutive free ports");
  }

  @Test
  void everyGroupListensInTheRangeAndItsCollectivesWork() throws IOException {
    int first = freeRange(4);
    // Two nodes on one host, two groups each: four listeners in four ports.
    try (TestCluster cluster = new TestCluster("port-range", 2,
        "dsparse.collective.tcp { port = " + first + ", ports = 4 }")) {
      for (String id : List.of("x", "y")) {
        GroupSpec spec = cluster.group(id, 0, 1);
        List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
        float[][] inputs = GroupRun.integerInputs(2, 1000, 5);
        float[] sum = GroupRun.expected(inputs, ReduceOp.SUM);
        for (float[] result : GroupRun.allReduce(cluster, spec, groups, 1, inputs, ReduceOp.SUM)) {
          assertArrayEquals(sum, result);
        }
        for (int rank = 0; rank < 2; rank++) {
          TestProbe<ProcessGroup.GroupStats> stats = cluster.node(rank).createTestProbe();
          groups.get(rank).tell(new ProcessGroup.GetStats(stats.ref()));
          String endpoint = stats.receiveMessage().dataEndpoint().orElseThrow();
          int port = Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1));
          assertTrue(port >= first && port < first + 4, "group " + id + " rank " + rank + " listens on " + endpoint
              + ", outside " + first + "-" + (first + 3));
        }
      }
    }
  }
}
