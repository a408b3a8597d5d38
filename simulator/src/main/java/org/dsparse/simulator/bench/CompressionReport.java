package org.dsparse.simulator.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;

/**
 * bench/compression's summary: from a simulation that ran both modes under the same protocol with no
 * compression, Top-k and the count sketch ({@code sync...}, {@code ...+topk-50x},
 * {@code ...+sketch-50x}), one row per mode, compressor and setting: wire bytes per step and device and
 * test accuracy from the full-length loopback run; aggregation and step time from the timing runs on
 * shaped links of the same protocol (the pre-trained setting's: a scratch row takes them from there
 * too, which {@code timeFrom} says), else from the loopback run. Then the goals, each against no
 * compression in the same mode and setting. Writes {@code compression.json}.
 */
public final class CompressionReport {
  private CompressionReport() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("compression-report", args, Set.of("runs", "out"), Set.of());
      String runsFlag = flags.get("runs").orElseThrow(() -> new UsageException("--runs PATH[,PATH...] is required"));
      Path out = Path.of(flags.get("out").orElseThrow(() -> new UsageException("--out PATH is required")));
      // Several simulations' runs are read as one (e.g. bench/compression's with a study of sketch splits).
      JsonObject simulation = new JsonObject();
      simulation.add("runs", new JsonArray());
      simulation.add("timings", new JsonArray());
      for (String file : runsFlag.split(",")) {
        Path runs = Path.of(file);
        try {
          JsonObject one = JsonParser.parseString(Files.readString(runs)).getAsJsonObject();
          simulation.getAsJsonArray("runs").addAll(one.getAsJsonArray("runs"));
          if (one.has("timings")) {
            simulation.getAsJsonArray("timings").addAll(one.getAsJsonArray("timings"));
          }
        } catch (IOException | RuntimeException e) {
          throw new UsageException(runs + ": not a simulation report (" + e.getMessage() + ")");
        }
      }
      Path runs = Path.of(runsFlag);
      JsonObject report = summarize(simulation, runs);
      Files.writeString(out, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(report));
      print(report);
      System.out.println("wrote " + out);
    } catch (UsageException e) {
      System.err.println("compression-report: " + e.getMessage());
      System.exit(2);
    } catch (IOException e) {
      System.err.println("compression-report: cannot write: " + e.getMessage());
      System.exit(1);
    }
  }

  private static final java.util.regex.Pattern COMPRESSED = java.util.regex.Pattern.compile(
      "(.*)-(topk|sketch)-[0-9]+x(-[rcv][0-9.]+)*");

  /** {@code none}, {@code topk} or {@code sketch}, from a protocol name such as {@code sync-sketch-50x}. */
  static String compressor(String protocol) {
    java.util.regex.Matcher m = COMPRESSED.matcher(protocol);
    return m.matches() ? m.group(2) : "none";
  }

  /** The compressor with its settings: {@code none}, {@code topk-50x}, {@code sketch-50x-v0.50}. */
  static String settings(String protocol) {
    java.util.regex.Matcher m = COMPRESSED.matcher(protocol);
    return m.matches() ? protocol.substring(m.end(1) + 1) : "none";
  }

  private static String base(String protocol) {
    java.util.regex.Matcher m = COMPRESSED.matcher(protocol);
    return m.matches() ? m.group(1) : protocol;
  }

  static JsonObject summarize(JsonObject simulation, Path source) {
    JsonArray loopback = simulation.getAsJsonArray("runs");
    JsonArray timings = simulation.has("timings") ? simulation.getAsJsonArray("timings") : new JsonArray();
    if (loopback == null || loopback.isEmpty()) {
      throw new UsageException(source + ": no runs");
    }
    JsonArray rows = new JsonArray();
    Map<String, JsonObject> byKey = new LinkedHashMap<>();
    for (JsonElement element : loopback) {
      JsonObject run = element.getAsJsonObject();
      String protocol = run.get("protocol").getAsString();
      String setting = run.get("setting").getAsString();
      JsonObject timing = timingFor(timings, protocol);
      for (String mode : new String[] {"full", "dsparse"}) {
        if (!run.has(mode)) {
          continue;
        }
        JsonObject trained = run.getAsJsonObject(mode);
        JsonObject timed = timing != null && timing.has(mode) ? timing.getAsJsonObject(mode) : trained;
        JsonObject row = new JsonObject();
        row.addProperty("mode", mode);
        row.addProperty("compressor", compressor(protocol));
        row.addProperty("compressorSettings", settings(protocol));
        row.addProperty("setting", setting);
        row.addProperty("protocol", protocol);
        row.addProperty("wireBytesPerStep", trained.get("wireBytesPerStepPerDevice").getAsDouble());
        row.addProperty("allReduceBytesPerStep", trained.getAsJsonObject("wireBytesPerStepPerDeviceByKind")
            .get("allreduce").getAsDouble());
        row.addProperty("aggregationMillis", timed.get("aggMillisPerStep").getAsDouble());
        row.addProperty("stepMillis", timed.get("medianStepMillis").getAsDouble());
        row.addProperty("testAccuracy", 100 * trained.get("testAccuracy").getAsDouble());
        row.addProperty("steps", trained.get("steps").getAsInt());
        row.addProperty("timeFrom", timing == null ? "loopback, this run"
            : "links " + timing.get("links").getAsString() + ", " + timing.get("setting").getAsString()
                + " timing runs (median of their repeats)");
        rows.add(row);
        byKey.put(mode + "/" + setting + "/" + settings(protocol) + "/" + base(protocol), row);
      }
    }
    JsonObject report = new JsonObject();
    report.add("rows", rows);
    report.add("goals", goals(byKey));
    report.addProperty("source", source.toString());
    report.addProperty("measured", "bytes (the transports' counters) and accuracy: the full-length runs on loopback;"
        + " times: the timing runs named in each row's timeFrom. Ratios below: derived from those rows.");
    return report;
  }

  /** The first timing run of {@code protocol} (the pre-trained setting's), or null. */
  private static JsonObject timingFor(JsonArray timings, String protocol) {
    for (JsonElement element : timings) {
      JsonObject timing = element.getAsJsonObject();
      if (timing.get("protocol").getAsString().equals(protocol)) {
        return timing;
      }
    }
    return null;
  }

  /** Each compressed row against no compression in the same mode, setting and base protocol. */
  private static JsonArray goals(Map<String, JsonObject> rows) {
    JsonArray goals = new JsonArray();
    rows.forEach((key, row) -> {
      String[] parts = key.split("/");
      if (parts[2].equals("none")) {
        return;
      }
      JsonObject none = rows.get(parts[0] + "/" + parts[1] + "/none/" + parts[3]);
      JsonObject topk = rows.entrySet().stream()
          .filter(e -> e.getKey().startsWith(parts[0] + "/" + parts[1] + "/topk") && e.getKey().endsWith("/" + parts[3]))
          .map(Map.Entry::getValue).findFirst().orElse(null);
      if (none == null) {
        return;
      }
      JsonObject g = new JsonObject();
      g.addProperty("mode", parts[0]);
      g.addProperty("setting", parts[1]);
      g.addProperty("compressor", row.get("compressor").getAsString());
      g.addProperty("compressorSettings", parts[2]);
      double wireCut = none.get("wireBytesPerStep").getAsDouble() / row.get("wireBytesPerStep").getAsDouble();
      double allReduceCut = none.get("allReduceBytesPerStep").getAsDouble()
          / row.get("allReduceBytesPerStep").getAsDouble();
      double accuracyDelta = row.get("testAccuracy").getAsDouble() - none.get("testAccuracy").getAsDouble();
      double stepCut = none.get("stepMillis").getAsDouble() / row.get("stepMillis").getAsDouble();
      g.addProperty("wireBytesCut", wireCut);
      g.addProperty("allReduceBytesCut", allReduceCut);
      g.addProperty("wireBytesCutAtLeast20x", wireCut >= 20);
      g.addProperty("accuracyDeltaPoints", accuracyDelta);
      if (parts[1].equals("pretrained")) {
        g.addProperty("accuracyWithinHalfAPoint", accuracyDelta >= -0.5);
      }
      g.addProperty("stepTimeCut", stepCut);
      g.addProperty("aggregationTimeCut", none.get("aggregationMillis").getAsDouble()
          / row.get("aggregationMillis").getAsDouble());
      if (row.get("compressor").getAsString().equals("sketch") && topk != null) {
        g.addProperty("accuracyAgainstTopKPoints", row.get("testAccuracy").getAsDouble()
            - topk.get("testAccuracy").getAsDouble());
        g.addProperty("wireBytesAgainstTopK", row.get("wireBytesPerStep").getAsDouble()
            / topk.get("wireBytesPerStep").getAsDouble());
      }
      goals.add(g);
    });
    return goals;
  }

  private static void print(JsonObject report) {
    System.out.printf(Locale.ROOT, "%-8s %-11s %-16s %14s %14s %10s %10s %9s%n", "mode", "setting", "compressor",
        "wire MB/step", "allreduce MB", "agg ms", "step ms", "acc %");
    for (JsonElement element : report.getAsJsonArray("rows")) {
      JsonObject r = element.getAsJsonObject();
      System.out.printf(Locale.ROOT, "%-8s %-11s %-16s %14.3f %14.3f %10.1f %10.1f %9.2f%n", r.get("mode").getAsString(),
          r.get("setting").getAsString(), r.get("compressorSettings").getAsString(),
          r.get("wireBytesPerStep").getAsDouble() / 1e6, r.get("allReduceBytesPerStep").getAsDouble() / 1e6,
          r.get("aggregationMillis").getAsDouble(), r.get("stepMillis").getAsDouble(),
          r.get("testAccuracy").getAsDouble());
    }
    for (JsonElement element : report.getAsJsonArray("goals")) {
      JsonObject g = element.getAsJsonObject();
      System.out.printf(Locale.ROOT, "%s %s %s: wire bytes %.1fx fewer (allreduce %.1fx), accuracy %+.2f pt,"
              + " step %.2fx faster%s%n", g.get("mode").getAsString(), g.get("setting").getAsString(),
          g.get("compressorSettings").getAsString(), g.get("wireBytesCut").getAsDouble(),
          g.get("allReduceBytesCut").getAsDouble(), g.get("accuracyDeltaPoints").getAsDouble(),
          g.get("stepTimeCut").getAsDouble(), g.has("accuracyAgainstTopKPoints")
              ? String.format(Locale.ROOT, "; against Top-k %+.2f pt at %.2fx its bytes",
                  g.get("accuracyAgainstTopKPoints").getAsDouble(), g.get("wireBytesAgainstTopK").getAsDouble())
              : "");
    }
  }
}
