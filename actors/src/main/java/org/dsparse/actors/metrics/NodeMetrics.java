package org.dsparse.actors.metrics;

import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.lab.KernelMemory;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.protocol.wire.WireTraffic;
import org.slf4j.LoggerFactory;

/**
 * This node's Prometheus metrics, served as text at {@code http://HOST:PORT/metrics}
 * ({@code dsparse.metrics.port}; -1 serves none, 0 any free port; the default 9464, when another node
 * of the machine has it, gives way to the next free port): the node itself from its start, what its
 * device did in each job's steps, and, on a node that coordinates a job, where the job stands. One
 * registry per node, so that nodes sharing a JVM (simulator, tests) keep theirs apart. The job's label
 * is {@code job_id}: Prometheus gives every scraped series a {@code job} label of its own (the scrape
 * job's), and renames a clashing one to {@code exported_job}. Names, all with the labels given:
 *
 * <p>From the node's start, job or none:
 * <ul>
 *   <li>the Prometheus Java client's JVM and process series ({@code jvm_memory_used_bytes},
 *       {@code jvm_gc_collection_seconds}, {@code jvm_threads_current}, {@code process_cpu_seconds_total},
 *       {@code process_resident_memory_bytes}, ...);
 *   <li>{@code dsparse_node_up{role}}: 1 while this node is an Up member of its cluster, else 0;
 *       {@code role} is {@code device} or {@code coordinator};
 *   <li>{@code dsparse_cluster_members{status}}: the cluster's members as this node sees them, by
 *       status ({@code joining}, {@code weakly-up}, {@code up}, {@code leaving}, {@code exiting},
 *       {@code down}, {@code removed}, ...), and {@code dsparse_cluster_unreachable_members};
 *   <li>{@code dsparse_device_budget_bytes{device}}: the device's memory budget (device nodes);
 *   <li>{@code dsparse_process_resident_bytes{kind}}: what the kernel charges this process,
 *       {@code total} ({@code VmRSS}) and its {@code anonymous} part ({@code RssAnon}), PyTorch's native
 *       memory included, which the JVM's own series miss;
 *   <li>{@code dsparse_cgroup_memory_bytes{kind}} and {@code dsparse_cgroup_oom_kills_total}: when the
 *       process runs in a cgroup v1 memory group of its own, the group's {@code anonymous} memory
 *       (what it cannot reclaim), {@code usage} (page cache included) and {@code limit} (absent when
 *       none), and how often the OOM killer acted in it (see {@link KernelMemory});
 *   <li>{@code dsparse_wire_refused_total{reason}}: frames this node refused on arrival
 *       ({@code unknown-type}, {@code class-not-allowed}, {@code length-beyond-frame}, {@code malformed});
 *   <li>{@code dsparse_tls_refused_total{direction,reason}}: TLS peers this node refused, {@code incoming}
 *       or {@code outgoing}, as {@code untrusted}, {@code expired} or {@code not-yet-valid} (once one was).
 * </ul>
 *
 * <p>Once a job runs:
 * <ul>
 *   <li>{@code dsparse_device_steps_total{job_id,device}}: steps the device completed;
 *   <li>{@code dsparse_device_loss{job_id,device}}: its last step's training loss;
 *   <li>{@code dsparse_device_compute_seconds_total}, {@code dsparse_device_aggregation_seconds_total}
 *       {@code {job_id,device}}: its model work, and its AllReduce and Broadcast time;
 *   <li>{@code dsparse_device_memory_bytes{job_id,device,kind}}: {@code measured} peak training memory
 *       (resident growth) and {@code current};
 *   <li>{@code dsparse_device_wire_bytes_total{job_id,device,group,kind,direction}}: bytes its transports
 *       sent and received, by process group and kind (allreduce, broadcast, shard, control);
 *   <li>{@code dsparse_device_failures_total{job_id,device}}: steps it could not complete;
 *   <li>{@code dsparse_job_step{job_id}}, {@code dsparse_job_loss{job_id}}, {@code dsparse_job_test_accuracy{job_id}},
 *       {@code dsparse_job_devices{job_id}}, {@code dsparse_job_step_seconds{job_id}}: the coordinated job's
 *       steps done, mean loss, last test accuracy, devices and last step's wall time;
 *   <li>{@code dsparse_job_recoveries_total{job_id,kind}}: devices lost ({@code lost}) or adopted
 *       ({@code joined}) while it ran.
 * </ul>
 */
public final class NodeMetrics implements Extension {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter steps = counter("dsparse_device_steps", "Steps the device completed", "job_id", "device");
  private final Gauge loss = gauge("dsparse_device_loss", "The device's last step's training loss", "job_id", "device");
  private final Counter compute = counter("dsparse_device_compute_seconds", "The device's model work", "job_id",
      "device");
  private final Counter aggregation = counter("dsparse_device_aggregation_seconds",
      "The device's AllReduce and Broadcast time", "job_id", "device");
  private final Gauge memory = gauge("dsparse_device_memory_bytes",
      "The device's training memory: measured peak or current resident growth", "job_id", "device", "kind");
  private final Counter wire = counter("dsparse_device_wire_bytes", "Bytes the device's transports moved", "job_id",
      "device", "group", "kind", "direction");
  private final Counter failures = counter("dsparse_device_failures", "Steps the device could not complete", "job_id",
      "device");
  private final Gauge jobStep = gauge("dsparse_job_step", "Steps the job has done", "job_id");
  private final Gauge jobLoss = gauge("dsparse_job_loss", "The job's last step's mean training loss", "job_id");
  private final Gauge jobAccuracy = gauge("dsparse_job_test_accuracy", "The job's last test accuracy", "job_id");
  private final Gauge jobDevices = gauge("dsparse_job_devices", "Devices in the job", "job_id");
  private final Gauge jobStepSeconds = gauge("dsparse_job_step_seconds", "The job's last step's wall time", "job_id");
  private final Counter recoveries = counter("dsparse_job_recoveries", "Devices lost or adopted while the job ran",
      "job_id", "kind");
  private final Counter tlsRefused = counter("dsparse_tls_refused", "TLS peers this node refused", "direction",
      "reason");
  private final Gauge budget = gauge("dsparse_device_budget_bytes", "The device's memory budget", "device");
  private final HttpServer server;

  private NodeMetrics(ActorSystem<?> system) {
    WireTraffic traffic = WireTraffic.get(system);
    CounterWithCallback.builder().name("dsparse_wire_refused").help("Frames refused on arrival, by reason")
        .labelNames("reason").callback(out -> traffic.refusals().forEach((reason, n) -> out.call(n, reason)))
        .register(registry);
    JvmMetrics.builder().register(registry);
    registerMembership(Cluster.get(system));
    registerKernelMemory();
    int port = system.settings().config().getInt("dsparse.metrics.port");
    if (port < 0) {
      server = null;
      return;
    }
    String host = system.settings().config().getString("pekko.remote.artery.canonical.hostname");
    try {
      server = HttpServer.create(new InetSocketAddress(host, port), 0);
    } catch (IOException e) {
      throw new UncheckedIOException("dsparse.metrics.port: cannot serve metrics on " + host + ":" + port + ": "
          + e.getMessage(), e);
    }
    server.createContext("/metrics", exchange -> {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      PrometheusTextFormatWriter.create().write(body, registry.scrape());
      exchange.getResponseHeaders().set("Content-Type", PrometheusTextFormatWriter.CONTENT_TYPE);
      exchange.sendResponseHeaders(200, body.size());
      try (OutputStream out = exchange.getResponseBody()) {
        body.writeTo(out);
      }
    });
    server.start();
    // A node on a fixed port is a device of its own machine, whose operator wants the address; nodes
    // on any free port are many to a machine (simulator, tests).
    var log = LoggerFactory.getLogger(NodeMetrics.class);
    if (port > 0) {
      log.info("metrics at http://{}:{}/metrics", host, server.getAddress().getPort());
    } else {
      log.debug("metrics at http://{}:{}/metrics", host, server.getAddress().getPort());
    }
    system.getWhenTerminated().thenRun(() -> server.stop(0));
  }

  /** The setting, as messages name it. */
  public static final String PORT_KEY = "dsparse.metrics.port";
  /** How many ports above a taken default a node tries before it takes any free port. */
  static final int NEXT_PORTS = 16;

  /**
   * {@code config} with the metrics port the node will serve on, chosen before the node starts (a node
   * stopped while it starts logs its cluster's errors). The default port (reference.conf's 9464) is the
   * first node's of a machine: a second node there takes the next free port above it, or any free one.
   * A port configured anywhere else is the operator's choice and must be free.
   *
   * @throws IllegalArgumentException naming the port and the key when a configured port is taken
   */
  public static Config withFreePort(Config config) {
    int port = config.getInt(PORT_KEY);
    if (port <= 0) {
      return config;
    }
    String host = config.getString("pekko.remote.artery.canonical.hostname");
    String taken = bindError(host, port);
    if (taken == null) {
      return config;
    }
    if (!isDefault(config)) {
      throw new IllegalArgumentException(PORT_KEY + ": cannot serve metrics on " + host + ":" + port + ": " + taken
          + " (set another port, 0 for any free one, or -1 for none)");
    }
    int chosen = 0;
    for (int next = port + 1; next <= Math.min(port + NEXT_PORTS, 65535) && chosen == 0; next++) {
      if (bindError(host, next) == null) {
        chosen = next;
      }
    }
    if (chosen == 0) {
      try (ServerSocket any = new ServerSocket(0, 1, InetAddress.getByName(host))) {
        chosen = any.getLocalPort();
      } catch (IOException e) {
        throw new IllegalArgumentException(PORT_KEY + ": cannot serve metrics on " + host + ": " + e.getMessage(), e);
      }
    }
    return config.withValue(PORT_KEY, ConfigValueFactory.fromAnyRef(chosen));
  }

  /** Whether the port is the libraries' default, set by no file, flag or property of the operator. */
  private static boolean isDefault(Config config) {
    return "reference.conf".equals(config.getValue(PORT_KEY).origin().resource());
  }

  /** Why {@code host:port} cannot be bound, or null when it can. */
  private static String bindError(String host, int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(host, port));
      return null;
    } catch (IOException e) {
      return e.getMessage();
    }
  }

  public static NodeMetrics get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** The port metrics are served on, or -1. */
  public int port() {
    return server == null ? -1 : server.getAddress().getPort();
  }

  /** The memory budget of this node's device. */
  public void deviceStarted(String device, long budgetBytes) {
    budget.labelValues(device).set(budgetBytes);
  }

  /** A device completed a step of a job. */
  public void deviceStepped(String job, String device, StepMetrics m) {
    steps.labelValues(job, device).inc();
    loss.labelValues(job, device).set(m.loss());
    compute.labelValues(job, device).inc(m.computeMillis() / 1e3);
    aggregation.labelValues(job, device).inc(m.aggregationMillis() / 1e3);
    memory.labelValues(job, device, "measured").set(m.peakTrainingBytes());
    memory.labelValues(job, device, "current").set(m.trainingBytes());
    for (WireBytes w : m.wire()) {
      String group = w.group().isEmpty() ? "-" : w.group();
      wire.labelValues(job, device, group, w.kind(), "sent").inc(w.sent());
      wire.labelValues(job, device, group, w.kind(), "received").inc(w.received());
    }
  }

  public void deviceFailed(String job, String device) {
    failures.labelValues(job, device).inc();
  }

  /** The coordinated job did {@code step} steps, the last in {@code stepSeconds}. */
  public void jobStepped(String job, long step, double meanLoss, double stepSeconds, int devices) {
    jobStep.labelValues(job).set(step);
    jobLoss.labelValues(job).set(meanLoss);
    jobStepSeconds.labelValues(job).set(stepSeconds);
    jobDevices.labelValues(job).set(devices);
  }

  public void jobEvaluated(String job, double accuracy) {
    jobAccuracy.labelValues(job).set(accuracy);
  }

  /** Devices {@code lost} or {@code joined} the job. */
  public void jobRecovered(String job, int lost, int joined) {
    if (lost > 0) {
      recoveries.labelValues(job, "lost").inc(lost);
    }
    if (joined > 0) {
      recoveries.labelValues(job, "joined").inc(joined);
    }
  }

  /** A TLS handshake with a peer failed on its certificate. */
  public void tlsRefused(String direction, String reason) {
    tlsRefused.labelValues(direction, reason).inc();
  }

  /** Membership as this node sees it: read at each scrape, so that an idle node still shows it is alive. */
  private void registerMembership(Cluster cluster) {
    String role = cluster.selfMember().hasRole(LayerShard.HOST_ROLE) ? "device" : "coordinator";
    GaugeWithCallback.builder().name("dsparse_node_up").help("1 while this node is an Up member of its cluster")
        .labelNames("role")
        .callback(out -> out.call(cluster.selfMember().status().equals(MemberStatus.up()) ? 1 : 0, role))
        .register(registry);
    GaugeWithCallback.builder().name("dsparse_cluster_members").help("The cluster's members as this node sees them")
        .labelNames("status").callback(out -> {
          Map<String, Integer> byStatus = new TreeMap<>();
          for (String status : STATUSES) {
            byStatus.put(status, 0);
          }
          for (Member m : cluster.state().getMembers()) {
            byStatus.merge(statusName(m.status()), 1, Integer::sum);
          }
          byStatus.forEach((status, n) -> out.call(n, status));
        }).register(registry);
    GaugeWithCallback.builder().name("dsparse_cluster_unreachable_members")
        .help("Members this node's failure detector finds unreachable")
        .callback(out -> out.call(cluster.state().getUnreachable().size())).register(registry);
  }

  /** The statuses always written, 0 or not, so that a query over them never finds a gap. */
  private static final List<String> STATUSES = List.of("joining", "weakly-up", "up", "leaving", "exiting", "down",
      "removed");

  /** {@code WeaklyUp} as {@code weakly-up}. */
  private static String statusName(MemberStatus status) {
    return status.toString().replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * What the kernel charges this process and its memory group, read at each scrape. Not on Linux
   * (no /proc), the series are absent.
   */
  private void registerKernelMemory() {
    GaugeWithCallback.builder().name("dsparse_process_resident_bytes")
        .help("The process's resident memory as the kernel counts it: total (VmRSS) and anonymous (RssAnon)")
        .labelNames("kind").callback(out -> kernel().ifPresent(k -> {
          out.call(k.vmRssBytes(), "total");
          out.call(k.rssAnonBytes(), "anonymous");
        })).register(registry);
    GaugeWithCallback.builder().name("dsparse_cgroup_memory_bytes")
        .help("The process's cgroup v1 memory group: anonymous (not reclaimable), usage (page cache included), limit")
        .labelNames("kind").callback(out -> kernel().flatMap(KernelMemory.Snapshot::cgroup).ifPresent(g -> {
          out.call(g.anonymousBytes(), "anonymous");
          out.call(g.usageBytes(), "usage");
          g.limitBytes().ifPresent(limit -> out.call(limit, "limit"));
        })).register(registry);
    CounterWithCallback.builder().name("dsparse_cgroup_oom_kills")
        .help("Processes the OOM killer killed in this process's cgroup v1 memory group")
        .callback(out -> kernel().flatMap(KernelMemory.Snapshot::cgroup).ifPresent(g -> out.call(g.oomKills())))
        .register(registry);
  }

  private static Optional<KernelMemory.Snapshot> kernel() {
    try {
      return Optional.of(KernelMemory.readSelf());
    } catch (UncheckedIOException e) {
      return Optional.empty();
    }
  }

  private Counter counter(String name, String help, String... labels) {
    return Counter.builder().name(name).help(help).labelNames(labels).register(registry);
  }

  private Gauge gauge(String name, String help, String... labels) {
    return Gauge.builder().name(name).help(help).labelNames(labels).register(registry);
  }

  /** One per actor system. */
  public static final class Id extends ExtensionId<NodeMetrics> {
    static final Id INSTANCE = new Id();

    @Override
    public NodeMetrics createExtension(ActorSystem<?> system) {
      return new NodeMetrics(system);
    }
  }
}
