package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.dsparse.actors.tls.ClusterCertificates;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.dsparse.actors.tls.ClusterSslEngineProvider;
import org.dsparse.actors.tls.ClusterTrust;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.ReduceOp;
import org.junit.jupiter.api.Test;

/**
 * The same contract on a cluster closed by mutual TLS: Artery over TLS, and every TCP data link under
 * TLS on the cluster's certificates (one certificate shared by the three nodes here); and connections
 * to a data link without a certificate of the cluster's CA are refused and counted.
 */
class ThreeMemberTlsCollectivesTest extends CollectiveClusterContract {
  @Test
  void dataLinkConnectionsWithoutTheClustersCertificateAreRefusedAndCounted() throws Exception {
    // The links exist once a collective has run.
    float[][] inputs = GroupRun.integerInputs(3, 10, 3);
    GroupRun.allReduce(cluster, spec, groups, sequence.incrementAndGet(), inputs, ReduceOp.SUM);
    TestProbe<ProcessGroup.GroupStats> stats = cluster.node(0).createTestProbe();
    groups.get(0).tell(new ProcessGroup.GetStats(stats.ref()));
    ProcessGroup.GroupStats before = stats.receiveMessage();
    String[] endpoint = before.dataEndpoint().orElseThrow().split(":");
    InetSocketAddress address = new InetSocketAddress(endpoint[0], Integer.parseInt(endpoint[1]));
    // A plain connection presenting a well-formed hello in the clear.
    try (SocketChannel plain = SocketChannel.open(address)) {
      ByteBuffer hello = ByteBuffer.allocate(64);
      hello.putInt(0x44535031).putInt(3).put("all".getBytes(StandardCharsets.UTF_8)).putInt(2).putLong(1)
          .putLong(42).flip();
      plain.write(hello);
      plain.socket().setSoTimeout(10_000);
      assertEquals(-1, plain.socket().getInputStream().read(), "the listener hangs up on a connection without TLS");
    }
    // A TLS client whose certificate another CA issued.
    Path other = Files.createTempDirectory("tls-foreign");
    ClusterCertificates.initCa(other, "collectives", Duration.ofDays(1), Clock.systemUTC());
    ClusterCertificates.issue(other, "stranger", Duration.ofDays(1), Clock.systemUTC());
    javax.net.ssl.SSLContext foreign = ClusterTrust.context(other.resolve("stranger"), (d, e, c, x) -> {});
    try (SocketChannel stranger = SocketChannel.open(address)) {
      stranger.socket().setSoTimeout(10_000);
      assertThrows(IOException.class, () -> TlsDataLink.client(stranger, foreign, endpoint[0], address.getPort()));
    }
    long refusedBefore = before.rejected(ChunkRejection.NON_MEMBER);
    stats.awaitAssert(Duration.ofSeconds(10), () -> {
      groups.get(0).tell(new ProcessGroup.GetStats(stats.ref()));
      assertEquals(refusedBefore + 2, stats.receiveMessage().rejected(ChunkRejection.NON_MEMBER));
      return null;
    });
    // The group's own links were not disturbed.
    float[][] again = GroupRun.integerInputs(3, 10, 3);
    float[] sum = GroupRun.expected(again, ReduceOp.SUM);
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, sequence.incrementAndGet(), again, ReduceOp.SUM)) {
      assertArrayEquals(sum, result);
    }
  }
  @Override
  int members() {
    return 3;
  }

  @Override
  String configOverrides() {
    try {
      Path certs = Files.createTempDirectory("tls-collectives");
      ClusterCertificates.initCa(certs, "collectives", Duration.ofDays(1), Clock.systemUTC());
      ClusterCertificates.issue(certs, "node", Duration.ofDays(1), Clock.systemUTC());
      return "dsparse.tls { enabled = on, dir = \"" + certs.resolve("node") + "\" }\n"
          + "pekko.remote.artery.transport = tls-tcp\n"
          + "pekko.remote.artery.ssl.ssl-engine-provider = " + ClusterSslEngineProvider.class.getName() + "\n"
          // Artery's TLS streams may take longer than the test kit's 10 s to close at the end; the
          // contract is about the collectives, not about shutting down.
          + "pekko.actor.testkit.typed { system-shutdown-default = 30 s, throw-on-shutdown-timeout = off }\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
