package org.dsparse.simulator.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * bench/faults' account of its faults: what they add up to, the per-kind table, the figure, and the
 * accuracy over a run's last evaluations. Pure functions of the JSON the driver writes.
 */
final class FaultsReport {
  private FaultsReport() {}

  /**
   * What the faults add up to. Lost steps are summed over the faults that report them: the job did not
   * survive the others, so how many steps they cost is unknown, and {@code lostStepsUnknown} counts them
   * instead of adding a 0. The maxima are over the survived faults other than restarts.
   */
  record Summary(long survived, long committedStepsLost, long stepsRedone, long lostStepsUnknown,
      double maxDetectedSeconds, double maxTrainingAgainSeconds) {}

  static Summary summarize(JsonArray faults) {
    long survived = 0;
    long lost = 0;
    long redone = 0;
    long unknown = 0;
    double maxDetected = 0;
    double maxTrainingAgain = 0;
    for (JsonElement f : faults) {
      JsonObject fault = f.getAsJsonObject();
      boolean ok = fault.get("survived").getAsBoolean();
      survived += ok ? 1 : 0;
      if (ok && !fault.get("kind").getAsString().equals("restart")) {
        maxDetected = Math.max(maxDetected, fault.get("detectedSeconds").getAsDouble());
        maxTrainingAgain = Math.max(maxTrainingAgain, fault.get("trainingAgainSeconds").getAsDouble());
      }
      Long faultLost = number(fault, "committedStepsLost");
      Long faultRedone = number(fault, "stepsRedone");
      if (faultLost == null || faultRedone == null) {
        unknown++;
      }
      lost += faultLost == null ? 0 : faultLost;
      redone += faultRedone == null ? 0 : faultRedone;
    }
    return new Summary(survived, lost, redone, unknown, maxDetected, maxTrainingAgain);
  }

  /**
   * The printed table, one row per kind of fault: injected, survived, seconds to detection and to
   * training again (median / max over the survived ones), steps redone and committed steps lost
   * (sums over the faults that report them, with how many are unknown).
   */
  static List<String> table(JsonArray faults) {
    Map<String, JsonArray> byKind = new java.util.LinkedHashMap<>();
    for (JsonElement f : faults) {
      byKind.computeIfAbsent(f.getAsJsonObject().get("kind").getAsString(), k -> new JsonArray()).add(f);
    }
    List<String> lines = new ArrayList<>();
    lines.add(String.format("%-22s %8s %8s %16s %16s %14s %14s", "fault", "injected", "survived",
        "detected s", "again s", "steps redone", "steps lost"));
    byKind.forEach((kind, list) -> {
      Summary s = summarize(list);
      List<Double> detected = new ArrayList<>();
      List<Double> again = new ArrayList<>();
      for (JsonElement f : list) {
        JsonObject fault = f.getAsJsonObject();
        if (fault.get("survived").getAsBoolean()) {
          detected.add(fault.get("detectedSeconds").getAsDouble());
          again.add(fault.get("trainingAgainSeconds").getAsDouble());
        }
      }
      lines.add(String.format("%-22s %8d %8d %16s %16s %14s %14s", kind, list.size(), s.survived(),
          medianMax(detected), medianMax(again), known(s.stepsRedone(), s.lostStepsUnknown()),
          known(s.committedStepsLost(), s.lostStepsUnknown())));
    });
    return lines;
  }

  /** A sum over the known values, and how many are unknown ("?") when any is. */
  static String known(long sum, long unknown) {
    return unknown == 0 ? Long.toString(sum) : sum + " + " + unknown + " unknown (?)";
  }

  private static String medianMax(List<Double> values) {
    if (values.isEmpty()) {
      return "?";
    }
    double median = medians(Map.of("", values)).get("");
    return String.format("%.1f / %.1f", median, values.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
  }

  /** A fault's count, null when it is unknown (JSON null, or absent). */
  private static Long number(JsonObject fault, String key) {
    JsonElement value = fault.get(key);
    return value == null || value.isJsonNull() ? null : value.getAsLong();
  }

  /** Seconds to detection and to training again, the median of each kind of fault over the runs. */
  static Path plot(JsonArray faults, Path file) throws IOException {
    Map<String, List<Double>> detected = new java.util.LinkedHashMap<>();
    Map<String, List<Double>> again = new java.util.LinkedHashMap<>();
    for (JsonElement f : faults) {
      JsonObject fault = f.getAsJsonObject();
      if (!fault.get("survived").getAsBoolean()) {
        continue;
      }
      String kind = fault.get("kind").getAsString();
      detected.computeIfAbsent(kind, k -> new ArrayList<>()).add(fault.get("detectedSeconds").getAsDouble());
      again.computeIfAbsent(kind, k -> new ArrayList<>()).add(fault.get("trainingAgainSeconds").getAsDouble());
    }
    Map<String, Map<String, Double>> bars = new java.util.LinkedHashMap<>();
    bars.put("detected", medians(detected));
    bars.put("training again", medians(again));
    return org.dsparse.simulator.Plots.bars(file, "Seconds from the fault (median per kind)", "s", bars);
  }

  private static Map<String, Double> medians(Map<String, List<Double>> values) {
    Map<String, Double> medians = new java.util.LinkedHashMap<>();
    values.forEach((kind, v) -> {
      double[] sorted = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      int mid = sorted.length / 2;
      medians.put(kind, sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2);
    });
    return medians;
  }

  /** The mean accuracy of a run's last {@code n} evaluations (NaN without them). */
  static double meanOfLast(JsonObject run, int n) {
    if (!run.has("accuracyCurve")) {
      return Double.NaN;
    }
    JsonArray curve = run.getAsJsonArray("accuracyCurve");
    double sum = 0;
    int count = 0;
    for (int i = Math.max(0, curve.size() - n); i < curve.size(); i++) {
      sum += curve.get(i).getAsJsonObject().get("accuracy").getAsDouble();
      count++;
    }
    return count == 0 ? Double.NaN : sum / count;
  }
}
