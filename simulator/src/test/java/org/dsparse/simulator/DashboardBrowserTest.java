package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.dsparse.actors.dashboard.Dashboard;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real browser during a simulator run: headless Chromium opens the page once, and
 * what it renders is read from the page as the job goes on (no reload): the devices, the plan grid,
 * the curves drawn, and the step number moving. A screenshot is saved in target/.
 */
class DashboardBrowserTest {
  private static final Duration DEADLINE = Duration.ofSeconds(120);

  /** What the test reads from the rendered page. */
  private static final String PAGE_STATE = """
      JSON.stringify({
        step: Number((document.getElementById('step') || {}).textContent || 0),
        devices: [...document.querySelectorAll('#devices tbody tr td:first-child')].map(td => td.textContent),
        gridCells: document.querySelectorAll('#grid td.updates').length,
        groups: document.querySelectorAll('#groups tbody tr').length,
        lossLines: document.querySelectorAll('#chart-loss polyline').length,
        stepLines: document.querySelectorAll('#chart-step polyline').length,
        accuracyMarks: document.querySelectorAll('#chart-accuracy polyline, #chart-accuracy circle').length,
        jobs: document.querySelectorAll('#jobs button').length,
        marker: window.loadedOnce === true
      })""";

  @Test
  void chromiumShowsTheRunningJobAndItsNumbersMove(@TempDir Path dir) throws Exception {
    Path chromium = HeadlessChromium.find().orElse(null);
    Assumptions.assumeTrue(chromium != null,
        "skipped: no chromium on this machine (apt-get install chromium; .ci/run installs it)");
    Config config = ConfigFactory.parseString("""
        dsparse.simulation {
          name = browser
          modes = [dsparse]
          devices = [ { name = big, budget = "110%" }, { name = small, budget = "50%", compute-slowdown = 4 } ]
        }
        dsparse.job { model = small-cnn, epochs = 4, max-steps-per-epoch = 40, evaluate-every = 10, checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    SimulationConfig simulation = SimulationConfig.read(config);
    try (Dashboard dashboard = Dashboard.start("127.0.0.1", 0)) {
      CompletableFuture<Simulation.Outcome> run = CompletableFuture.supplyAsync(() -> {
        try {
          return new Simulation(simulation, config, dir, line -> {}, dashboard).run();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Files.createDirectories(dir.resolve("chromium"));
      try (HeadlessChromium browser = HeadlessChromium.start(chromium, dir.resolve("chromium"))) {
        browser.navigate(dashboard.url());
        JsonObject first = waitFor(browser, run, s -> s.get("step").getAsInt() >= 2 && s.get("lossLines").getAsInt() > 0);
        browser.evaluate("window.loadedOnce = true");
        assertEquals("[\"big\",\"small\"]", first.get("devices").toString(), "the devices listed");
        assertTrue(first.get("gridCells").getAsInt() > 0, "the plan grid marks who updates what: " + first);
        assertTrue(first.get("groups").getAsInt() > 0, "the process groups listed: " + first);
        assertTrue(first.get("stepLines").getAsInt() > 0, "the step-time curve drawn: " + first);
        int step = first.get("step").getAsInt();
        // The same page, not reloaded (the marker set in it survives), shows later steps and an evaluation.
        JsonObject later = waitFor(browser, run, s -> s.get("step").getAsInt() > step + 5
            && s.get("accuracyMarks").getAsInt() > 0 && s.get("marker").getAsBoolean());
        assertTrue(later.get("marker").getAsBoolean(), "updated live, without a reload: " + later);
        Path screenshot = Path.of("target", "dashboard-screenshot.png");
        browser.screenshot(screenshot);
        assertTrue(Files.size(screenshot) > 10_000, "a screenshot of the rendered page");
      }
      run.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }
  }

  /** Reads the page until {@code done} holds; fails naming what it last saw after the deadline. */
  private static JsonObject waitFor(HeadlessChromium browser, CompletableFuture<?> run, Predicate<JsonObject> done)
      throws Exception {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    JsonObject state = null;
    while (System.nanoTime() < deadline) {
      String text = browser.evaluate(PAGE_STATE);
      state = JsonParser.parseString(JsonParser.parseString(text).getAsString()).getAsJsonObject();
      if (done.test(state)) {
        return state;
      }
      if (run.isDone()) {
        run.join();
        throw new AssertionError("the run ended before the page showed what was expected; it last showed " + state);
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the page did not show what was expected within " + DEADLINE + "; it last showed " + state);
  }
}
