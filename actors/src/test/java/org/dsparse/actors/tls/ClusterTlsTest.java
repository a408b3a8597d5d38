package org.dsparse.actors.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.NodeConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A cluster over mutual TLS on its own CA: it trains, and nodes whose certificates the CA did not issue
 * are kept out while it does.
 */
class ClusterTlsTest {
  private static final Clock NOW = Clock.systemUTC();

  private static Config base(Path certificates) {
    return ConfigFactory.parseString("""
        dsparse.tls.enabled = on
        dsparse.job { id = closed, model = small-cnn, devices = 3, epochs = 1, max-steps-per-epoch = 4,
          checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
  }

  private static DsparseNode node(Config base, Path tlsDir, String name) {
    return DsparseNode.start(NodeConfig.node(base.withValue("dsparse.tls.dir",
        ConfigValueFactory.fromAnyRef(tlsDir.toString())), name, "127.0.0.1", 0, List.of(), "1GiB", false));
  }

  @Test
  void aClusterOnItsOwnCaTrainsAndStrangersAreRefused(@TempDir Path dir) throws Exception {
    Path certs = dir.resolve("certs");
    ClusterCertificates.initCa(certs, "lab", Duration.ofDays(10), NOW);
    for (String device : List.of("a", "b", "c")) {
      ClusterCertificates.issue(certs, device, Duration.ofDays(5), NOW);
    }
    // A stranger from another CA of the same name, and one that copied the cluster's ca.crt (so it
    // trusts the members and shows them its certificate, which the members' CA did not issue).
    Path other = dir.resolve("other");
    ClusterCertificates.initCa(other, "lab", Duration.ofDays(10), NOW);
    ClusterCertificates.issue(other, "stranger", Duration.ofDays(5), NOW);
    ClusterCertificates.issue(other, "copycat", Duration.ofDays(5), NOW);
    Files.copy(certs.resolve(ClusterCertificates.CA_CERT), other.resolve("copycat").resolve(ClusterCertificates.CA_CERT),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    Logger providerLog = (Logger) LoggerFactory.getLogger(ClusterTrust.class);
    ListAppender<ILoggingEvent> refusals = new ListAppender<>();
    refusals.start();
    providerLog.addAppender(refusals);
    Config base = base(certs);
    List<DsparseNode> nodes = new ArrayList<>();
    try {
      for (String device : List.of("a", "b", "c")) {
        DsparseNode node = node(base, certs.resolve(device), device);
        nodes.add(node);
        node.join(nodes.get(0).address());
      }
      for (DsparseNode node : nodes) {
        node.awaitUp(Duration.ofSeconds(30));
      }
      CompletableFuture<JobEvent> job = nodes.get(0).submit(JobConfig.read(base), e -> {});
      DsparseNode stranger = node(base, other.resolve("stranger"), "stranger");
      try {
        stranger.join(nodes.get(0).address());
        assertThrows(IllegalStateException.class, () -> stranger.awaitUp(Duration.ofSeconds(8)),
            "a node of another CA joined the cluster");
      } finally {
        stranger.close();
      }
      // The copycat skips dsparse's own check of its files (a hostile node would): a bare Pekko node.
      ActorSystem<Void> copycat = ActorSystem.create(Behaviors.empty(), NodeConfig.SYSTEM_NAME, ConfigFactory.parseString(
          "pekko.remote.artery.transport = tls-tcp\n"
          + "pekko.remote.artery.ssl.ssl-engine-provider = " + ClusterSslEngineProvider.class.getName())
          .withValue("dsparse.tls.dir", ConfigValueFactory.fromAnyRef(other.resolve("copycat").toString()))
          .withFallback(NodeConfig.node(base.withValue("dsparse.tls.enabled", ConfigValueFactory.fromAnyRef(false)),
              "copycat", "127.0.0.1", 0, List.of(), "1GiB", false)));
      try {
        Cluster cluster = Cluster.get(copycat);
        cluster.manager().tell(Join.create(AddressFromURIString.parse(nodes.get(0).address())));
        Thread.sleep(8000);
        assertTrue(cluster.selfMember().status() != MemberStatus.up(), "the copycat joined the cluster");
      } finally {
        copycat.terminate();
      }
      JobEvent end = job.get(120, TimeUnit.SECONDS);
      assertTrue(end instanceof JobEvent.Succeeded, "the cluster trained on while strangers knocked: " + end);
      assertEquals(4, ((JobEvent.Succeeded) end).report().steps());
    } finally {
      providerLog.detachAppender(refusals);
      for (int i = nodes.size() - 1; i >= 0; i--) {
        nodes.get(i).close();
      }
    }
    // The members saw the copycat's certificate and said whose it was; the stranger refused theirs.
    List<String> lines = refusals.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("refused incoming CN=copycat") && l.contains("untrusted")),
        lines.toString());
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("refused outgoing CN=a")), lines.toString());
  }

  @Test
  void aCertificateThatIsMissingForeignOrExpiredStopsTheNodeBeforeItStartsNamingTheFile(@TempDir Path dir)
      throws Exception {
    Path certs = dir.resolve("certs");
    ClusterCertificates.initCa(certs, "lab", Duration.ofDays(100), NOW);
    ClusterCertificates.issue(certs, "a", Duration.ofDays(10), NOW);
    Config base = base(certs);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> node(base, dir.resolve("nowhere"), "a"));
    assertTrue(e.getMessage().startsWith("dsparse.tls.dir: ") && e.getMessage().contains("tls.crt"), e.getMessage());
    Clock later = Clock.fixed(Instant.now().plus(Duration.ofDays(11)), ZoneOffset.UTC);
    e = assertThrows(IllegalArgumentException.class, () -> ClusterTls.apply(base.withValue("dsparse.tls.dir",
        ConfigValueFactory.fromAnyRef(certs.resolve("a").toString())), later));
    assertTrue(e.getMessage().contains("expired"), e.getMessage());
    // A key that is not the certificate's.
    ClusterCertificates.issue(certs, "b", Duration.ofDays(10), NOW);
    Files.copy(certs.resolve("b").resolve(ClusterCertificates.KEY), certs.resolve("a").resolve(ClusterCertificates.KEY),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    e = assertThrows(IllegalArgumentException.class, () -> node(base, certs.resolve("a"), "a"));
    assertTrue(e.getMessage().contains("is not the private key of"), e.getMessage());
  }
}
