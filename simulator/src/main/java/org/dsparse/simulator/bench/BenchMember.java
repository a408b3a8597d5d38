package org.dsparse.simulator.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.collective.BlockingCollectives;
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.collective.ProcessGroup.Completed;
import org.dsparse.core.collective.ReduceOp;

/**
 * One member process of {@link CollectiveBenchmark}: joins the loopback cluster, times AllReduce
 * and Broadcast of the same buffer, checks every result and prints one {@code RESULT} line: rank,
 * correctness, the timed runs' milliseconds of each collective, then its data thread's CPU
 * milliseconds per run (-1 over Artery).
 *
 * <p>Arguments: rank, comma-separated {@code host:port} addresses (rank order; each member's own
 * loopback address when links are shaped), floats, warm-ups, runs, chunk size in bytes,
 * transport ({@code tcp} or {@code artery}, or {@code tcp-tls} / {@code artery-tls}: the same under the
 * cluster's mutual TLS, Artery and data links alike, with the certificate folder {@code rank-N} under
 * the eighth argument).
 */
public final class BenchMember {
  static final String RESULT_PREFIX = "RESULT ";
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private BenchMember() {}

  /** Artery over mutual TLS on this member's certificates, as a dsparse node with dsparse.tls.enabled has it. */
  private static Config tls(java.nio.file.Path certificates) {
    return org.dsparse.actors.tls.ClusterTls.apply(ConfigFactory.parseString("dsparse.tls.enabled = on")
        .withValue("dsparse.tls.dir", com.typesafe.config.ConfigValueFactory.fromAnyRef(certificates.toString()))
        .withFallback(ConfigFactory.load()), java.time.Clock.systemUTC());
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 7 && args.length != 8) {
      throw new IllegalArgumentException(
          "usage: BenchMember <rank> <host:port,host:port,...> <floats> <warm-ups> <runs> <chunk-bytes> <tcp|artery|tcp-tls|artery-tls>"
              + " [certificates folder]");
    }
    int rank = Integer.parseInt(args[0]);
    String[] endpoints = args[1].split(",");
    int floats = Integer.parseInt(args[2]);
    int warmUps = Integer.parseInt(args[3]);
    int runs = Integer.parseInt(args[4]);
    long chunkBytes = Long.parseLong(args[5]);
    String transport = args[6];
    int members = endpoints.length;

    List<Address> addresses = new ArrayList<>();
    for (String endpoint : endpoints) {
      int colon = endpoint.lastIndexOf(':');
      addresses.add(new Address("pekko", "bench", endpoint.substring(0, colon),
          Integer.parseInt(endpoint.substring(colon + 1))));
    }
    Address self = addresses.get(rank);
    Config config = ConfigFactory.parseString(String.join("\n",
        "pekko.loglevel = WARNING",
        "pekko.actor.provider = cluster",
        "pekko.remote.artery.canonical.hostname = " + self.getHost().get(),
        "pekko.remote.artery.canonical.port = " + self.getPort().get(),
        "pekko.remote.artery.advanced.maximum-frame-size = " + Math.max(256 * 1024, chunkBytes + 4096),
        "pekko.remote.artery.advanced.buffer-pool-size = 128",
        "pekko.cluster.seed-nodes = [\"" + addresses.get(0) + "\"]",
        "pekko.cluster.downing-provider-class = \"\"",
        "pekko.cluster.jmx.enabled = off",
        "dsparse.collective.chunk-size = " + chunkBytes,
        "dsparse.collective.transport = " + transport.replace("-tls", ""),
        "dsparse.collective.deadline = 20 s"))
        .withFallback(transport.endsWith("-tls") ? tls(java.nio.file.Path.of(args[7]).resolve("rank-" + rank))
            : ConfigFactory.empty())
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "bench", config);
    try {
      awaitMembersUp(system, members);
      GroupSpec spec = new GroupSpec("bench", addresses);
      ActorRef<ProcessGroup.Command> group = system.systemActorOf(ProcessGroup.create(spec),
          ProcessGroup.actorName(spec.groupId()), org.apache.pekko.actor.typed.Props.empty());
      long[] sequence = {0};
      List<Double> allReduceMillis = new ArrayList<>();
      List<Double> broadcastMillis = new ArrayList<>();
      List<Double> allReduceCpuMillis = new ArrayList<>();
      List<Double> broadcastCpuMillis = new ArrayList<>();
      boolean correct = true;
      float[] buffer = new float[floats];
      float expectedOffset = (members - 1) / 2f;
      for (int i = 0; i < warmUps + runs; i++) {
        for (int j = 0; j < floats; j++) {
          buffer[j] = (j % 1000) + rank;
        }
        barrier(system, group, sequence);
        long start = System.nanoTime();
        Completed completed = BlockingCollectives.allReduceCompleted(system, group, ++sequence[0], buffer, ReduceOp.MEAN,
            TIMEOUT);
        long elapsed = System.nanoTime() - start;
        for (int j = 0; j < floats; j++) {
          correct &= buffer[j] == (j % 1000) + expectedOffset;
        }
        if (i >= warmUps) {
          allReduceMillis.add(elapsed / 1e6);
          allReduceCpuMillis.add(cpuMillis(completed));
        }
      }
      for (int i = 0; i < warmUps + runs; i++) {
        for (int j = 0; j < floats; j++) {
          buffer[j] = rank == 0 ? Float.intBitsToFloat(pattern(j)) : 0f;
        }
        barrier(system, group, sequence);
        long start = System.nanoTime();
        Completed completed = BlockingCollectives.broadcastCompleted(system, group, ++sequence[0], 0, buffer, TIMEOUT);
        long elapsed = System.nanoTime() - start;
        for (int j = 0; j < floats; j++) {
          correct &= Float.floatToRawIntBits(buffer[j]) == pattern(j);
        }
        if (i >= warmUps) {
          broadcastMillis.add(elapsed / 1e6);
          broadcastCpuMillis.add(cpuMillis(completed));
        }
      }
      barrier(system, group, sequence);
      System.out.println(RESULT_PREFIX + rank + " " + correct + " " + join(allReduceMillis) + " " + join(broadcastMillis)
          + " " + join(allReduceCpuMillis) + " " + join(broadcastCpuMillis));
      System.out.flush();
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /** A one-float AllReduce: every member leaves it only after all arrived, so timed runs start together. */
  private static void barrier(ActorSystem<?> system, ActorRef<ProcessGroup.Command> group, long[] sequence)
      throws Exception {
    BlockingCollectives.allReduce(system, group, ++sequence[0], new float[1], ReduceOp.SUM, TIMEOUT);
  }

  private static void awaitMembersUp(ActorSystem<?> system, int members) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
        .filter(m -> m.status() == MemberStatus.up()).count() < members) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("cluster of " + members + " did not form within 60 s");
      }
      Thread.sleep(50);
    }
  }

  /** Arbitrary float bit patterns (NaNs, denormals, infinities included) that must arrive unchanged. */
  private static int pattern(int index) {
    return index * 0x9E3779B1;
  }

  /** The data thread's CPU milliseconds, or -1 where the transport does not measure it. */
  private static double cpuMillis(Completed completed) {
    return completed.dataThreadCpuNanos() < 0 ? -1 : completed.dataThreadCpuNanos() / 1e6;
  }

  private static String join(List<Double> values) {
    StringJoiner joiner = new StringJoiner(",");
    values.forEach(v -> joiner.add(String.format(java.util.Locale.ROOT, "%.3f", v)));
    return joiner.toString();
  }
}
