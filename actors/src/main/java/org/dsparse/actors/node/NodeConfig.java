package org.dsparse.actors.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;

/**
 * Builds a node's configuration from the few things that differ between nodes (name, address,
 * seeds, budget) on top of a base: the user's file or the defaults.
 */
public final class NodeConfig {
  /** The ActorSystem name every node of a cluster shares. */
  public static final String SYSTEM_NAME = "dsparse";

  private NodeConfig() {}

  /**
   * @param host address to bind and advertise
   * @param port 0 for any free port
   * @param seedNodes cluster addresses to join ({@code pekko://dsparse@host:port}); a node lists
   *     itself to start a new cluster
   * @param budget a size such as {@code 512MiB}, or {@code auto}
   */
  public static Config node(Config base, String deviceName, String host, int port, List<String> seedNodes,
      String budget, boolean measureMemory) {
    return ConfigFactory.empty()
        .withValue("dsparse.device.name", ConfigValueFactory.fromAnyRef(deviceName))
        .withValue("dsparse.device.memory-budget", ConfigValueFactory.fromAnyRef(budget))
        .withValue("dsparse.device.measure-memory", ConfigValueFactory.fromAnyRef(measureMemory))
        .withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host))
        .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
        .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedNodes))
        .withFallback(port == 0 ? EPHEMERAL_METRICS : ConfigFactory.empty())
        .withFallback(REQUIRED)
        .withFallback(withDowning(base))
        .resolve();
  }

  /**
   * A node on any free cluster port shares its machine with others (simulator, tests): its metrics
   * take any free port too.
   */
  private static final Config EPHEMERAL_METRICS = ConfigFactory.parseString("dsparse.metrics.port = 0");

  /** What every dsparse node needs from Pekko, whatever the user's file says. */
  private static final Config REQUIRED = ConfigFactory.parseString("""
      pekko {
        loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
        logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
        actor.provider = cluster
        # Several nodes may share a JVM (simulator, tests).
        cluster.jmx.multi-mbeans-in-same-jvm = on
        coordinated-shutdown.exit-jvm = off
      }
      """);

  /**
   * The split-brain resolver (keep-majority) unless the user chose a downing provider. It downs an
   * unreachable device once the membership has been stable for 7 s (Pekko's default is 20 s; its
   * documentation suggests 7 s for clusters of up to about 10 nodes), so that a lost device's layer
   * shards move and new devices can join soon after a loss; a device back within that time is kept.
   */
  private static Config withDowning(Config base) {
    String key = "pekko.cluster.downing-provider-class";
    if (base.hasPath(key) && !base.getString(key).isEmpty()) {
      return base;
    }
    return ConfigFactory.parseString("""
        pekko.cluster.downing-provider-class = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
        pekko.cluster.split-brain-resolver.active-strategy = keep-majority
        pekko.cluster.split-brain-resolver.stable-after = 7 s
        """).withFallback(base);
  }
}
