package org.dsparse.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.metrics.NodeMetrics;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Every node serves its Prometheus metrics: the devices' steps and bytes, the coordinated job's progress. */
class NodeMetricsTest {
  @Test
  void aJobsProgressAndItsDevicesWorkAreServedInPrometheusTextFormat() throws Exception {
    Config config = ConfigFactory.parseString("""
        dsparse.job { id = metered, model = small-cnn, devices = 2, epochs = 1, max-steps-per-epoch = 4,
          checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "1GiB"));
    try (LocalCluster cluster = LocalCluster.start(config, members, Duration.ofSeconds(30))) {
      JobEvent end = cluster.node(0).submit(JobConfig.read(config), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
      String coordinator = scrape(cluster.node(0));
      assertEquals(4, value(coordinator, "dsparse_job_step{job_id=\"metered\"}"));
      assertEquals(2, value(coordinator, "dsparse_job_devices{job_id=\"metered\"}"));
      double accuracy = value(coordinator, "dsparse_job_test_accuracy{job_id=\"metered\"}");
      assertTrue(accuracy > 0 && accuracy <= 1, "accuracy " + accuracy);
      String device = scrape(cluster.node(1));
      assertEquals(4, value(device, "dsparse_device_steps_total{device=\"b\",job_id=\"metered\"}"));
      assertTrue(value(device, "dsparse_device_compute_seconds_total{device=\"b\",job_id=\"metered\"}") > 0);
      assertTrue(device.contains("dsparse_device_wire_bytes_total{") && device.contains("direction=\"sent\""),
          device);
      parsedByPrometheusClient(device, "dsparse_device_steps");
    }
  }

  @Test
  void aMetricsPortInUseStopsTheNodeAtStartNamingTheSetting() throws Exception {
    int metricsPort;
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getByName("127.0.0.1"))) {
      metricsPort = taken.getLocalPort();
      int clusterPort;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
        clusterPort = free.getLocalPort();
      }
      Config config = ConfigFactory.parseString("dsparse.metrics.port = " + metricsPort)
          .withFallback(ConfigFactory.load());
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> DsparseNode.startCoordinator(NodeConfig.node(config, "busy", "127.0.0.1", clusterPort,
              List.of(), "1GiB", false)));
      assertTrue(e.getMessage().startsWith("dsparse.metrics.port: cannot serve metrics on 127.0.0.1:" + metricsPort),
          e.getMessage());
    }
  }

  @Test
  void anIdleNodeServesItsMembershipBudgetMemoryAndJvmBeforeAnyJob() throws Exception {
    Config config = ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.load());
    try (LocalCluster cluster = LocalCluster.start(config, List.of(new LocalCluster.Member("idle", "1GiB")),
        Duration.ofSeconds(30))) {
      String page = scrape(cluster.node(0));
      assertEquals(1, value(page, "dsparse_node_up{role=\"device\"}"));
      assertEquals(1, value(page, "dsparse_cluster_members{status=\"up\"}"));
      assertEquals(0, value(page, "dsparse_cluster_members{status=\"joining\"}"));
      assertEquals(0, value(page, "dsparse_cluster_unreachable_members"));
      assertEquals(1L << 30, value(page, "dsparse_device_budget_bytes{device=\"idle\"}"));
      assertTrue(page.contains("jvm_memory_used_bytes{area=\"heap\"}"), page);
      assertTrue(page.contains("process_cpu_seconds_total"), page);
      assertTrue(!page.contains("dsparse_device_steps_total{"), "no job, no step series\n" + page);
      if (Files.isReadable(Path.of("/proc/self/status"))) {
        double total = value(page, "dsparse_process_resident_bytes{kind=\"total\"}");
        double anonymous = value(page, "dsparse_process_resident_bytes{kind=\"anonymous\"}");
        assertTrue(anonymous > 10e6 && anonymous <= total, anonymous + " of " + total);
      }
      if (org.dsparse.core.lab.KernelMemory.readSelf().cgroup().isPresent()) {
        assertTrue(value(page, "dsparse_cgroup_memory_bytes{kind=\"anonymous\"}") > 0, page);
        assertTrue(value(page, "dsparse_cgroup_oom_kills_total") >= 0, page);
      }
      parsedByPrometheusClient(page, "dsparse_node_up");
    }
  }

  @Test
  void theDefaultPortTakenGivesWayToAFreeOneAndAConfiguredOneDoesNot() throws Exception {
    Config defaults = ConfigFactory.load();
    int defaultPort = defaults.getInt("dsparse.metrics.port");
    // Another node of this machine (or a test beside this one) may hold it already: taken either way.
    java.net.ServerSocket holder = null;
    try {
      try {
        holder = new java.net.ServerSocket(defaultPort, 1, java.net.InetAddress.getByName("127.0.0.1"));
      } catch (java.io.IOException alreadyTaken) {
        // Fine: it is taken.
      }
      Config node = NodeConfig.node(defaults, "second", "127.0.0.1", freePort(), List.of(), "1GiB", false);
      Config chosen = NodeMetrics.withFreePort(node);
      int port = chosen.getInt("dsparse.metrics.port");
      assertTrue(port > 0 && port != defaultPort, "the default " + defaultPort + " gave way to " + port);
      Config configured = NodeConfig.node(ConfigFactory.parseString("dsparse.metrics.port = " + defaultPort)
          .withFallback(defaults), "third", "127.0.0.1", freePort(), List.of(), "1GiB", false);
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> NodeMetrics.withFreePort(configured));
      assertTrue(e.getMessage().startsWith("dsparse.metrics.port: cannot serve metrics on 127.0.0.1:" + defaultPort),
          e.getMessage());
    } finally {
      if (holder != null) {
        holder.close();
      }
    }
  }

  private static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      return free.getLocalPort();
    }
  }

  private static String scrape(DsparseNode node) throws Exception {
    int port = NodeMetrics.get(node.system()).port();
    assertTrue(port > 0, "metrics are served");
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(10))
            .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    return response.body();
  }

  /** The value of the sample written exactly as {@code series}. */
  private static double value(String text, String series) {
    Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(text);
    assertTrue(m.find(), series + " in\n" + text);
    return Double.parseDouble(m.group(1));
  }

  /** Prometheus' own Python client parses the page (skipped where it is not installed). */
  private static void parsedByPrometheusClient(String text, String family) throws Exception {
    Path page = Files.createTempFile("metrics", ".txt");
    Files.writeString(page, text, StandardCharsets.UTF_8);
    Process parser;
    try {
      // Debian's python3, where python3-prometheus-client installs (a python3 earlier on PATH may not see it).
      String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
      parser = new ProcessBuilder(python, "-c", """
          import sys
          from prometheus_client.parser import text_string_to_metric_families
          families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
          names = {f.name for f in families}
          assert sys.argv[2] in names, names
          print(len(families), sum(len(f.samples) for f in families))
          """, page.toString(), family).redirectErrorStream(true).start();
    } catch (java.io.IOException e) {
      Assumptions.abort("python3 is not installed: " + e.getMessage());
      return;
    }
    String out = new String(parser.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    parser.waitFor(60, TimeUnit.SECONDS);
    Files.deleteIfExists(page);
    Assumptions.assumeFalse(out.contains("No module named 'prometheus_client'"),
        "python3-prometheus-client is not installed");
    assertEquals(0, parser.exitValue(), out);
  }
}
