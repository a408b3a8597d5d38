package org.dsparse.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.metrics.NodeMetrics;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's {@code prometheus} package) scrapes a node through a scrape job, as an
 * operator's would: the node's series arrive under their own names and labels, none renamed to
 * {@code exported_job}. Skipped where Prometheus is not installed.
 */
class RealPrometheusScrapeTest {
  private static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");
  private static final String SCRAPE_JOB = "dsparse-node";
  /** Scrapes every second; Prometheus starts, scrapes and answers well within this. */
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void aScrapedNodesSeriesArriveWithTheirOwnLabels(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(PROMETHEUS), PROMETHEUS + " is not installed (apt-get install prometheus)");
    Config config = ConfigFactory.parseString("""
        dsparse.job { id = scraped, model = small-cnn, devices = 1, epochs = 1, max-steps-per-epoch = 2,
          checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    try (LocalCluster cluster = LocalCluster.start(config, List.of(new LocalCluster.Member("pi", "1GiB")),
        Duration.ofSeconds(30))) {
      JobEvent end = cluster.node(0).submit(JobConfig.read(config), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
      int metricsPort = NodeMetrics.get(cluster.node(0).system()).port();
      int webPort;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
        webPort = free.getLocalPort();
      }
      Path yml = dir.resolve("prometheus.yml");
      Files.writeString(yml, """
          global:
            scrape_interval: 1s
            evaluation_interval: 1s
          scrape_configs:
            - job_name: %s
              scrape_interval: 1s
              static_configs:
                - targets: ['127.0.0.1:%d']
          """.formatted(SCRAPE_JOB, metricsPort));
      Path log = dir.resolve("prometheus.log");
      Process prometheus = new ProcessBuilder(PROMETHEUS.toString(), "--config.file=" + yml,
          "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + webPort)
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        String api = "http://127.0.0.1:" + webPort + "/api/v1/query?query=";
        String job = "job=\"" + SCRAPE_JOB + "\"";
        assertEquals(1, value(awaitResult(api, "up{" + job + "}", r -> r.size() == 1
            && value(r) == 1, prometheus, log)));
        awaitResult(api, "jvm_memory_used_bytes{" + job + ",area=\"heap\"}", r -> r.size() == 1 && value(r) > 0,
            prometheus, log);
        awaitResult(api, "dsparse_device_budget_bytes{" + job + ",device=\"pi\"}", r -> value(r) == 1L << 30,
            prometheus, log);
        awaitResult(api, "dsparse_node_up{" + job + ",role=\"device\"}", r -> value(r) == 1, prometheus, log);
        awaitResult(api, "dsparse_cluster_members{" + job + ",status=\"up\"}", r -> value(r) == 1, prometheus, log);
        awaitResult(api, "dsparse_process_resident_bytes{" + job + ",kind=\"anonymous\"}", r -> value(r) > 0,
            prometheus, log);
        // The job's series under job_id, the scrape job's label left as Prometheus set it.
        awaitResult(api, "dsparse_device_steps_total{" + job + ",job_id=\"scraped\",device=\"pi\"}",
            r -> value(r) == 2, prometheus, log);
        JsonArray renamed = query(api, "{exported_job=~\".+\"}");
        assertEquals(0, renamed.size(), "series relabelled exported_job: " + renamed);
      } finally {
        prometheus.destroy();
        if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
          prometheus.destroyForcibly().waitFor();
        }
      }
    }
  }

  /** Queries until {@code done} holds for the result, failing with Prometheus' log after the deadline. */
  private JsonArray awaitResult(String api, String promQl, Predicate<JsonArray> done, Process prometheus, Path log)
      throws Exception {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    JsonArray last = null;
    String error = "";
    while (System.nanoTime() < deadline) {
      if (!prometheus.isAlive()) {
        throw new AssertionError("prometheus exited " + prometheus.exitValue() + ":\n" + Files.readString(log));
      }
      try {
        last = query(api, promQl);
        if (!last.isEmpty() && done.test(last)) {
          return last;
        }
      } catch (java.io.IOException e) {
        error = e.toString(); // Not listening yet.
      }
      Thread.sleep(500);
    }
    throw new AssertionError(promQl + " within " + DEADLINE.toSeconds() + " s: last result " + last + " " + error
        + "\nprometheus' log:\n" + Files.readString(log));
  }

  private JsonArray query(String api, String promQl) throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(api
        + URLEncoder.encode(promQl, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), promQl + ": " + response.body());
    JsonObject body = JsonParser.parseString(response.body()).getAsJsonObject();
    assertEquals("success", body.get("status").getAsString(), response.body());
    return body.getAsJsonObject("data").getAsJsonArray("result");
  }

  /** The first series' value: {@code "value": [time, "1"]}. */
  private static double value(JsonArray result) {
    return Double.parseDouble(result.get(0).getAsJsonObject().getAsJsonArray("value").get(1).getAsString());
  }
}
