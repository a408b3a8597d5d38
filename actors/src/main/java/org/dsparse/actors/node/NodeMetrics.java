package org.dsparse.actors.node;

import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.protocol.wire.WireTraffic;
import org.slf4j.LoggerFactory;

/**
 * This node's Prometheus metrics, served as text at {@code http://HOST:PORT/metrics}
 * ({@code dsparse.metrics.port}; -1 serves none, 0 any free port): what its device did in each
 * job's steps, and, on a node that coordinates a job, where the job stands. One registry per node,
 * so that nodes sharing a JVM (simulator, tests) keep theirs apart. Names, all with the labels given:
 *
 * <ul>
 *   <li>{@code dsparse_device_steps_total{job,device}}: steps the device completed;
 *   <li>{@code dsparse_device_loss{job,device}}: its last step's training loss;
 *   <li>{@code dsparse_device_compute_seconds_total}, {@code dsparse_device_aggregation_seconds_total}
 *       {@code {job,device}}: its model work, and its AllReduce and Broadcast time;
 *   <li>{@code dsparse_device_memory_bytes{job,device,kind}}: {@code measured} peak training memory
 *       (resident growth) and {@code current};
 *   <li>{@code dsparse_device_wire_bytes_total{job,device,group,kind,direction}}: bytes its transports
 *       sent and received, by process group and kind (allreduce, broadcast, shard, control);
 *   <li>{@code dsparse_device_failures_total{job,device}}: steps it could not complete;
 *   <li>{@code dsparse_job_step{job}}, {@code dsparse_job_loss{job}}, {@code dsparse_job_test_accuracy{job}},
 *       {@code dsparse_job_devices{job}}, {@code dsparse_job_step_seconds{job}}: the coordinated job's
 *       steps done, mean loss, last test accuracy, devices and last step's wall time;
 *   <li>{@code dsparse_job_recoveries_total{job,kind}}: devices lost ({@code lost}) or adopted
 *       ({@code joined}) while it ran;
 *   <li>{@code dsparse_wire_refused_total{reason}}: frames this node refused on arrival
 *       ({@code unknown-type}, {@code class-not-allowed}, {@code length-beyond-frame}, {@code malformed});
 *   <li>{@code dsparse_tls_refused_total{direction,reason}}: TLS peers this node refused, {@code incoming}
 *       or {@code outgoing}, as {@code untrusted}, {@code expired} or {@code not-yet-valid}.
 * </ul>
 */
public final class NodeMetrics implements Extension {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter steps = counter("dsparse_device_steps", "Steps the device completed", "job", "device");
  private final Gauge loss = gauge("dsparse_device_loss", "The device's last step's training loss", "job", "device");
  private final Counter compute = counter("dsparse_device_compute_seconds", "The device's model work", "job",
      "device");
  private final Counter aggregation = counter("dsparse_device_aggregation_seconds",
      "The device's AllReduce and Broadcast time", "job", "device");
  private final Gauge memory = gauge("dsparse_device_memory_bytes",
      "The device's training memory: measured peak or current resident growth", "job", "device", "kind");
  private final Counter wire = counter("dsparse_device_wire_bytes", "Bytes the device's transports moved", "job",
      "device", "group", "kind", "direction");
  private final Counter failures = counter("dsparse_device_failures", "Steps the device could not complete", "job",
      "device");
  private final Gauge jobStep = gauge("dsparse_job_step", "Steps the job has done", "job");
  private final Gauge jobLoss = gauge("dsparse_job_loss", "The job's last step's mean training loss", "job");
  private final Gauge jobAccuracy = gauge("dsparse_job_test_accuracy", "The job's last test accuracy", "job");
  private final Gauge jobDevices = gauge("dsparse_job_devices", "Devices in the job", "job");
  private final Gauge jobStepSeconds = gauge("dsparse_job_step_seconds", "The job's last step's wall time", "job");
  private final Counter recoveries = counter("dsparse_job_recoveries", "Devices lost or adopted while the job ran",
      "job", "kind");
  private final Counter tlsRefused = counter("dsparse_tls_refused", "TLS peers this node refused", "direction",
      "reason");
  private final HttpServer server;

  private NodeMetrics(ActorSystem<?> system) {
    WireTraffic traffic = WireTraffic.get(system);
    CounterWithCallback.builder().name("dsparse_wire_refused").help("Frames refused on arrival, by reason")
        .labelNames("reason").callback(out -> traffic.refusals().forEach((reason, n) -> out.call(n, reason)))
        .register(registry);
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

  public static NodeMetrics get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** The port metrics are served on, or -1. */
  public int port() {
    return server == null ? -1 : server.getAddress().getPort();
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
