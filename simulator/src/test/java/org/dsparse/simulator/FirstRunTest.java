package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The README's first command, as a newcomer runs it: the embedded experiment, with no config file.
 * What it must show is what dsparse is for, at the same protocol in both modes: less memory, fewer
 * bytes on the wire, and a test accuracy well above chance for both (the run is seeded, so these are
 * the run's own numbers, not timings). A healthy run logs no WARN or ERROR line.
 */
class FirstRunTest {

  @Test
  void theFirstCommandShowsDsparseAgainstTheFullUpdateWithoutWarnings(@TempDir Path dir) throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    root.addAppender(logged);
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    int exit;
    // Any free port for the dashboard: 8080 may be taken where the tests run.
    System.setProperty("dsparse.dashboard.port", "0");
    try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
      exit = SimulatorMain.run(new String[] {"--out", dir.toString()}, out);
    } finally {
      root.detachAppender(logged);
      System.clearProperty("dsparse.dashboard.port");
    }
    String output = printed.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, output);

    List<String> loud = logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
        .map(e -> e.getLevel() + " " + e.getLoggerName() + " " + e.getFormattedMessage()).toList();
    assertTrue(loud.isEmpty(), "a healthy first run logs no WARN or ERROR: " + loud);

    // The printed table: both modes' accuracies, the memory saving, the wire bytes.
    double[] accuracy = row(output, "test accuracy %");
    assertTrue(accuracy[0] > 50 && accuracy[1] > 50, "accuracy well above chance (10%): " + accuracy[0] + ", "
        + accuracy[1] + "\n" + output);
    double[] wire = row(output, "wire MB/step per device");
    assertTrue(wire[1] < wire[0], "DSparse moves fewer bytes per step: " + wire[1] + " vs " + wire[0]);
    assertTrue(output.contains("mean memory saving"), output);
    assertTrue(output.contains("plots: "), output);
    assertTrue(output.contains("dashboard: http://127.0.0.1:"), output);
    assertTrue(Files.readString(dir.resolve("simulation-dashboard.html")).contains("window.DSPARSE_EVENTS"),
        "the dashboard saved with the run's events");

    JsonObject json = JsonParser.parseString(Files.readString(dir.resolve("simulation.json"))).getAsJsonObject();
    String protocol = json.getAsJsonObject("full").get("protocol").getAsString();
    assertEquals(protocol, json.getAsJsonObject("dsparse").get("protocol").getAsString(),
        "both modes at the same aggregation protocol");
    JsonObject summary = json.getAsJsonObject("summary");
    assertTrue(summary.get("memoryReduction").getAsDouble() > 0.3, summary.toString());
    for (String plot : List.of("memory", "time", "accuracy")) {
      assertTrue(Files.size(dir.resolve("simulation-" + plot + ".png")) > 0, plot);
    }
  }

  /** The full and DSparse columns of the comparison row that starts with {@code label}. */
  private static double[] row(String output, String label) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(label) + "\\s+([0-9.]+)\\s+([0-9.]+)").matcher(output);
    assertTrue(m.find(), "no row '" + label + "' in\n" + output);
    return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
  }
}
