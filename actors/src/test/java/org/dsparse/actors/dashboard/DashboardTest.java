package org.dsparse.actors.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.job.JobReport;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dashboard's server without a browser: what it replays, streams and saves (the browser test is the simulator's). */
class DashboardTest {
  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(DEADLINE).build();

  private static JobEvent.Planned planned() {
    GroupPlan tail = new GroupPlan("g1", List.of(GroupPlan.Slice.whole(1, 8)), List.of("a", "b"), "a", 1024, "j.g1");
    GroupPlan head = new GroupPlan("g0", List.of(GroupPlan.Slice.whole(0, 4)), List.of("a"), "a", 512, "j.g0");
    PlannedJob plan = new PlannedJob(Map.of(
        "a", new Assignment("a", List.of(GroupPlan.Slice.whole(0, 4), GroupPlan.Slice.whole(1, 8)), 2_000_000),
        "b", new Assignment("b", List.of(GroupPlan.Slice.whole(1, 8)), 1_000_000)),
        List.of(head, tail), List.of("conv", "fc"), 2_000_000, "a plan");
    return new JobEvent.Planned("j", "a plan", List.of(new DeviceInfo("a", "pekko://x@h:1", 3_000_000, null),
        new DeviceInfo("b", "pekko://x@h:2", 1_500_000, null)), plan);
  }

  private static JobEvent.StepReported step(long step) {
    StepMetrics metrics = new StepMetrics(0.5f, 10, 2, 1, 3, 4096, 512,
        List.of(new WireBytes("g1", WireBytes.ALL_REDUCE, 4096, 4096)), 0, 0,
        new StepMetrics.Segments(List.of(), new double[] {1}, new long[] {4096}, new double[] {2}),
        List.of(new StepMetrics.GroupTime("g1", WireBytes.ALL_REDUCE, 2.0)));
    return new JobEvent.StepReported("j", 0, step, 10, 0.5, 20, 1, Map.of("a", metrics, "b", metrics));
  }

  @Test
  void aPageOpenedLateReplaysEveryEventThenReceivesNewOnes(@TempDir Path dir) throws Exception {
    try (Dashboard dashboard = Dashboard.start("127.0.0.1", 0)) {
      dashboard.accept(planned());
      dashboard.accept(step(1));
      dashboard.accept(new JobEvent.Recovering("j", new JobReport.Recovery("device b is unreachable", List.of("b"),
          List.of(), "step 2", System.currentTimeMillis(), 0, 1, 1, List.of())));

      String page = http.send(HttpRequest.newBuilder(URI.create(dashboard.url())).timeout(DEADLINE).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertTrue(page.contains("<title>dsparse dashboard</title>") && page.contains("EventSource"), page);

      JsonArray events = JsonParser.parseString(http.send(HttpRequest.newBuilder(URI.create(dashboard.url()
          + "events.json")).timeout(DEADLINE).build(), HttpResponse.BodyHandlers.ofString()).body()).getAsJsonArray();
      assertEquals(List.of("planned", "step", "recovering"), types(events));
      JsonObject plannedJson = events.get(0).getAsJsonObject();
      assertEquals("[1]", plannedJson.getAsJsonArray("devices").get(1).getAsJsonObject().get("layers").toString(),
          "device b updates layer 1");
      assertEquals("allreduce", plannedJson.getAsJsonArray("groups").get(1).getAsJsonObject().get("kind").getAsString());

      // The event stream: the replay after a hello, then an event accepted after the page connected.
      HttpResponse<java.io.InputStream> stream = http.send(HttpRequest.newBuilder(URI.create(dashboard.url() + "events"))
          .timeout(DEADLINE).build(), HttpResponse.BodyHandlers.ofInputStream());
      assertTrue(stream.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
      // Reads have no deadline of their own: the whole exchange gets one.
      assertTimeoutPreemptively(DEADLINE, () -> {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
          List<String> replayed = new ArrayList<>();
          boolean hello = false;
          while (replayed.size() < 3) {
            String line = lines.readLine();
            if ("hello".equals(field(line, "event"))) {
              hello = true;
            } else if (field(line, "data") != null && line.contains("\"type\"")) {
              assertTrue(hello, "the hello comes first: " + line);
              replayed.add(field(line, "data"));
            }
          }
          assertTrue(replayed.get(2).contains("\"recovering\""), replayed.toString());
          dashboard.accept(step(2));
          String live;
          do {
            live = field(lines.readLine(), "data");
          } while (live == null || !live.contains("\"type\""));
          JsonObject event = JsonParser.parseString(live).getAsJsonObject();
          assertEquals("step", event.get("type").getAsString());
          assertEquals(2, event.get("step").getAsInt(), "the live event after the replay");
        }
      });

      Path saved = dashboard.save(dir.resolve("saved.html"));
      String savedPage = Files.readString(saved);
      assertTrue(savedPage.contains("window.DSPARSE_EVENTS = [") && savedPage.contains("\"type\":\"recovering\""));
    }
  }

  @Test
  void aPortInUseIsNamedAtStart() {
    try (Dashboard first = Dashboard.start("127.0.0.1", 0)) {
      int port = URI.create(first.url()).getPort();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Dashboard.start("127.0.0.1", port));
      assertTrue(e.getMessage().startsWith("dsparse.dashboard.port: cannot listen on 127.0.0.1:" + port),
          e.getMessage());
    }
  }

  /** The value of an event-stream line {@code name:value} (one optional space after the colon), else null. */
  private static String field(String line, String name) {
    if (line == null || !line.startsWith(name + ":")) {
      return null;
    }
    String value = line.substring(name.length() + 1);
    return value.startsWith(" ") ? value.substring(1) : value;
  }

  private static List<String> types(JsonArray events) {
    List<String> types = new ArrayList<>();
    events.forEach(e -> types.add(e.getAsJsonObject().get("type").getAsString()));
    return types;
  }
}
