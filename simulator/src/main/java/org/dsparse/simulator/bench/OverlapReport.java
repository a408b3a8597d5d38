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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;

/**
 * bench/overlap's summary: from a simulation that ran the synchronous protocol without overlap
 * ({@code sync}: {@code off}), with DynaComm's dynamic decomposition ({@code sync-overlap-dynamic}:
 * {@code on}) and with fixed segments ({@code sync-overlap-K}: {@code fixed}), on loopback and on
 * shaped links, the median compute, communication and step time per step of each, and the overlap
 * ratio {@code (compute + communication - step) / min(compute, communication)}: 1 when the shorter of
 * the two hides entirely under the longer, 0 when they add up. Writes {@code overlap.json}.
 */
public final class OverlapReport {
  private OverlapReport() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("overlap-report", args, Set.of("runs", "out"), Set.of());
      Path runs = Path.of(flags.get("runs").orElseThrow(() -> new UsageException("--runs PATH is required")));
      Path out = Path.of(flags.get("out").orElseThrow(() -> new UsageException("--out PATH is required")));
      JsonObject simulation;
      try {
        simulation = JsonParser.parseString(Files.readString(runs)).getAsJsonObject();
      } catch (IOException | RuntimeException e) {
        throw new UsageException(runs + ": not a simulation report (" + e.getMessage() + ")");
      }
      JsonObject report = summarize(simulation, runs);
      Files.writeString(out, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(report));
      System.out.println("wrote " + out + " and " + plot(report, out));
    } catch (UsageException e) {
      System.err.println("overlap-report: " + e.getMessage());
      System.exit(2);
    } catch (IOException e) {
      System.err.println("overlap-report: cannot write: " + e.getMessage());
      System.exit(1);
    }
  }

  /** Median step time of the full update with overlap off, fixed and dynamic, on each kind of link. */
  private static Path plot(JsonObject report, Path json) throws IOException {
    Map<String, Map<String, Double>> bars = new LinkedHashMap<>();
    for (String links : List.of("loopback", "shaped")) {
      JsonObject byOverlap = report.has(links) ? report.getAsJsonObject(links) : new JsonObject();
      for (String overlap : List.of("off", "fixed", "on")) {
        if (byOverlap.has(overlap)) {
          String series = overlap.equals("on") ? "dynamic" : overlap.equals("fixed") ? "fixed segments" : "off";
          bars.computeIfAbsent(series, k -> new LinkedHashMap<>()).put(links + " links",
              byOverlap.getAsJsonObject(overlap).get("stepMillis").getAsDouble());
        }
      }
    }
    String name = json.getFileName().toString().replaceFirst("\\.json$", "") + ".png";
    return org.dsparse.simulator.Plots.bars(json.resolveSibling(name),
        "Full update, median step ms: overlap off, fixed segments, dynamic", "ms", bars);
  }

  static JsonObject summarize(JsonObject simulation, Path source) {
    JsonObject report = new JsonObject();
    report.addProperty("source", source.toString());
    report.addProperty("communication", "median over steps of the slowest device's AllReduce time (from the"
        + " moment every member had started a collective to its end; a group's segments summed)");
    report.addProperty("compute", "median over steps of the slowest device's model work");
    report.addProperty("backward", "median over steps of the slowest device's backward, the part of compute"
        + " communication can overlap: the overlap ratio cannot pass backward / min(compute, communication)");
    JsonObject byMode = new JsonObject();
    for (String mode : new String[] {"full", "dsparse"}) {
      JsonObject summary = new JsonObject();
      summary.add("loopback", offAndOn(simulation.getAsJsonArray("runs"), mode));
      summary.add("shaped", offAndOn(simulation.getAsJsonArray("timings"), mode));
      JsonObject shaped = summary.getAsJsonObject("shaped");
      if (shaped.has("on")) {
        summary.addProperty("overlapRatio", ratio(shaped.getAsJsonObject("on")));
      }
      if (shaped.has("fixed")) {
        summary.addProperty("fixedOverlapRatio", ratio(shaped.getAsJsonObject("fixed")));
      }
      if (shaped.has("on") && shaped.has("fixed")) {
        // What the dynamic decomposition gains over one fixed segment size, on the same links.
        summary.addProperty("dynamicStepOverFixed", shaped.getAsJsonObject("on").get("stepMillis").getAsDouble()
            / shaped.getAsJsonObject("fixed").get("stepMillis").getAsDouble());
      }
      if (summary.getAsJsonObject("loopback").size() + summary.getAsJsonObject("shaped").size() > 0) {
        byMode.add(mode, summary);
        print(mode, summary);
      }
    }
    if (!byMode.has("full")) {
      throw new UsageException("the simulation ran no full update with and without overlap");
    }
    // The full update first: every device AllReduces the whole model, the case overlap is for.
    JsonObject full = byMode.getAsJsonObject("full");
    report.addProperty("mode", "full");
    report.add("shaped", full.get("shaped"));
    report.add("loopback", full.get("loopback"));
    for (String key : new String[] {"overlapRatio", "fixedOverlapRatio", "dynamicStepOverFixed"}) {
      if (full.has(key)) {
        report.add(key, full.get(key));
      }
    }
    report.add("byMode", byMode);
    return report;
  }

  /** The {@code sync} entry as {@code off}, {@code sync-overlap-dynamic} as {@code on}, {@code sync-overlap-K} as {@code fixed}. */
  private static JsonObject offAndOn(JsonArray entries, String mode) {
    JsonObject result = new JsonObject();
    if (entries == null) {
      return result;
    }
    for (JsonElement e : entries) {
      JsonObject entry = e.getAsJsonObject();
      String protocol = entry.get("protocol").getAsString();
      if (!entry.has(mode) || !(protocol.equals("sync") || protocol.startsWith("sync-overlap-"))) {
        continue;
      }
      JsonObject run = entry.getAsJsonObject(mode);
      JsonObject figures = new JsonObject();
      figures.addProperty("protocol", protocol);
      figures.addProperty("computeMillis", run.get("medianComputeMillis").getAsDouble());
      figures.addProperty("backwardMillis", run.get("medianBackwardMillis").getAsDouble());
      figures.addProperty("communicationMillis", run.get("medianAggMillis").getAsDouble());
      figures.addProperty("stepMillis", run.get("medianStepMillis").getAsDouble());
      figures.addProperty("wireBytesPerStepPerDevice", run.get("wireBytesPerStepPerDevice").getAsDouble());
      figures.addProperty("steps", run.get("steps").getAsLong());
      if (run.has("overlapSchedules")) {
        figures.add("schedules", run.get("overlapSchedules"));
      }
      result.add(protocol.equals("sync") ? "off" : protocol.equals("sync-overlap-dynamic") ? "on" : "fixed", figures);
    }
    return result;
  }

  private static double ratio(JsonObject figures) {
    double compute = figures.get("computeMillis").getAsDouble();
    double communication = figures.get("communicationMillis").getAsDouble();
    double step = figures.get("stepMillis").getAsDouble();
    double shorter = Math.min(compute, communication);
    return shorter <= 0 ? 0 : (compute + communication - step) / shorter;
  }

  private static void print(String mode, JsonObject summary) {
    System.out.printf(Locale.ROOT, "%s update, medians per step (ms):%n", mode);
    System.out.printf(Locale.ROOT, "  %-9s %-4s %10s %14s %10s %8s %14s%n", "links", "", "compute", "communication",
        "step", "ratio", "wire MB/step");
    for (String links : new String[] {"loopback", "shaped"}) {
      for (String side : new String[] {"off", "fixed", "on"}) {
        JsonObject f = summary.getAsJsonObject(links).getAsJsonObject(side);
        if (f == null) {
          continue;
        }
        System.out.printf(Locale.ROOT, "  %-9s %-4s %10.1f %14.1f %10.1f %8.2f %14.3f%n", links, side,
            f.get("computeMillis").getAsDouble(), f.get("communicationMillis").getAsDouble(),
            f.get("stepMillis").getAsDouble(), ratio(f), f.get("wireBytesPerStepPerDevice").getAsDouble() / 1e6);
      }
    }
  }
}
