package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobReport;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The comparison rows of an experiment's report, from made-up job reports: no job runs. */
class SimulationReportTest {
  private static final long MIB = 1 << 20;

  private static SimulationConfig simulation(String devices) {
    return SimulationConfig.read(ConfigFactory.parseString("""
        dsparse.simulation { name = made-up, devices = %s, baselines = [full-where-fits, uniform-tail] }
        """.formatted(devices)).withFallback(ConfigFactory.load()));
  }

  private static final String PLAIN = "[ { name = a, budget = \"100%\" }, { name = b, budget = \"100%\" },"
      + " { name = c, budget = \"40%\" } ]";

  /**
   * A job's report: each device's budget and memory in MiB, {@code aggMillis} per step, {@code wire} bytes per
   * device per step over 10 steps, accuracy curve evaluated at steps 5 and 10.
   */
  private static JobReport report(String jobId, JobSpec.Mode mode, Map<String, long[]> budgetAndMemory,
      double aggMillis, long wire, double accuracy) {
    JobSpec spec = org.dsparse.actors.job.JobConfig.read(ConfigFactory.load()).spec().withMode(mode, jobId);
    List<JobReport.DeviceReport> devices = budgetAndMemory.entrySet().stream().map(e -> new JobReport.DeviceReport(
        e.getKey(), e.getValue()[0] * MIB, 3, e.getValue()[1] * MIB, 0, aggMillis, aggMillis, 0, aggMillis, 100,
        wire, 10, List.of(new WireBytes("g0", WireBytes.ALL_REDUCE, wire * 5, wire * 5)))).toList();
    return new JobReport(spec, "plan of " + jobId, 100 * MIB, devices, 10, aggMillis, 200, aggMillis, 200, 100, 50,
        accuracy, List.of(accuracy), List.of(0.5), List.of(new JobReport.AccuracyPoint(5, 1.0, accuracy - 0.1),
            new JobReport.AccuracyPoint(10, 2.0, accuracy)), List.of(), List.of(), List.of());
  }

  private static Map<String, long[]> memory(String... deviceBudgetMemory) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (String d : deviceBudgetMemory) {
      String[] parts = d.split(":");
      m.put(parts[0], new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])});
    }
    return m;
  }

  private static Simulation.SettingResult setting(String links, Map<Baseline, BaselineRun> baselines) {
    Map<JobSpec.Mode, JobReport> reports = new LinkedHashMap<>();
    reports.put(JobSpec.Mode.FULL, report("full", JobSpec.Mode.FULL, memory("a:120:100", "b:120:100", "c:40:100"),
        100, 1000, 0.80));
    reports.put(JobSpec.Mode.DSPARSE, report("dsparse", JobSpec.Mode.DSPARSE,
        memory("a:120:80", "b:120:60", "c:40:40"), 50, 500, 0.79));
    return new Simulation.SettingResult("pretrained", "sync", links, reports, baselines);
  }

  private static Map<Baseline, BaselineRun> baselines() {
    Map<Baseline, BaselineRun> b = new LinkedHashMap<>();
    b.put(Baseline.FULL_WHERE_FITS, BaselineRun.ran(Baseline.FULL_WHERE_FITS, report("fits", JobSpec.Mode.FULL,
        memory("a:120:100", "b:120:100"), 40, 800, 0.75), List.of("a", "b"), "the full update on a, b"));
    b.put(Baseline.UNIFORM_TAIL, BaselineRun.notRun(Baseline.UNIFORM_TAIL, "planning failed: uniform-tail: device c"));
    return b;
  }

  private static SimulationReport report(SimulationConfig simulation, List<Simulation.SettingResult> settings,
      List<Simulation.SettingResult> timings) {
    return new SimulationReport(simulation, new Simulation.Outcome(List.of(100 * MIB, 100 * MIB, 40 * MIB), 100 * MIB,
        null, settings, Map.of(), timings, Map.of(), Map.of()));
  }

  @Test
  void eachBaselineHasARowBesideTheFullUpdatesWhichKeepsItsFields(@TempDir Path dir) throws Exception {
    SimulationReport report = report(simulation(PLAIN), List.of(setting("loopback", baselines())), List.of());
    Path file = dir.resolve("made-up.json");
    report.write(file);
    JsonArray rows = JsonParser.parseString(Files.readString(file)).getAsJsonObject().getAsJsonArray("comparisons");
    assertEquals(3, rows.size(), rows.toString());

    JsonObject full = rows.get(0).getAsJsonObject();
    assertEquals("full", full.get("baseline").getAsString());
    assertTrue(full.get("lab").isJsonNull(), "off the lab the lab is null, and written: " + full);
    for (String field : List.of("links", "memoryCut", "wireBytesCut", "aggregationCut", "accuracyDelta",
        "timeToAccuracyRatio", "fullAggMillisPerStep", "fullWireBytesPerStepPerDevice", "fullStepMillis",
        "fullSecondsToFullAccuracy", "dsparseSecondsToFullAccuracy", "dsparseAggMillisPerStep")) {
      assertTrue(full.has(field), field + " in " + full);
    }
    assertEquals(0.5, full.get("aggregationCut").getAsDouble(), 1e-12);
    assertEquals(0.5, full.get("wireBytesCut").getAsDouble(), 1e-12);
    assertEquals(-1.0, full.get("accuracyDelta").getAsDouble(), 1e-9);
    assertEquals(1 - (0.8 + 0.6 + 0.4) / 3, full.get("memoryCut").getAsDouble(), 1e-12);
    // DSparse never reached the full update's 80%.
    assertTrue(full.get("timeToAccuracyRatio").isJsonNull(), full.toString());

    JsonObject fits = rows.get(1).getAsJsonObject();
    assertEquals("full-where-fits", fits.get("baseline").getAsString());
    assertEquals("[\"a\",\"b\"]", fits.getAsJsonArray("baselineDevices").toString());
    // Memory on the devices the baseline ran on; DSparse's bytes and time against the baseline's own.
    assertEquals(1 - (0.8 + 0.6) / 2, fits.get("memoryCut").getAsDouble(), 1e-12);
    assertEquals(1 - 50.0 / 40, fits.get("aggregationCut").getAsDouble(), 1e-12);
    assertEquals(1 - 500.0 / 800, fits.get("wireBytesCut").getAsDouble(), 1e-12);
    assertEquals(4.0, fits.get("accuracyDelta").getAsDouble(), 1e-9);
    // Both first reached the baseline's 75% at their evaluation of step 10, after 2 s of training.
    assertEquals(1.0, fits.get("timeToAccuracyRatio").getAsDouble(), 1e-12);
    assertEquals(40.0, fits.get("baselineAggMillisPerStep").getAsDouble(), 1e-12);
    assertFalse(fits.has("fullAggMillisPerStep"), "a baseline's figures are not the full update's: " + fits);

    JsonObject tail = rows.get(2).getAsJsonObject();
    assertEquals("uniform-tail", tail.get("baseline").getAsString());
    assertTrue(tail.get("notRun").getAsString().contains("device c"), tail.toString());
    assertTrue(tail.get("memoryCut").isJsonNull() && tail.get("accuracyDelta").isJsonNull(), tail.toString());
    assertEquals("sync", tail.get("protocol").getAsString());

    JsonObject run = JsonParser.parseString(Files.readString(file)).getAsJsonObject().getAsJsonArray("runs").get(0)
        .getAsJsonObject().getAsJsonObject("baselines");
    assertTrue(run.getAsJsonObject("full-where-fits").get("ran").getAsBoolean());
    assertEquals("fits", run.getAsJsonObject("full-where-fits").get("jobId").getAsString());
    assertFalse(run.getAsJsonObject("uniform-tail").get("ran").getAsBoolean());

    String table = report.table();
    assertTrue(table.contains("full-where-fits") && table.contains("uniform-tail (pretrained, sync, loopback links):"
        + " not run: planning failed"), table);
  }

  @Test
  void timingRowsTakeEachBaselinesAccuracyFromItsFullLengthRun() {
    Map<Baseline, BaselineRun> shaped = new LinkedHashMap<>(baselines());
    shaped.put(Baseline.UNIFORM_TAIL, BaselineRun.ran(Baseline.UNIFORM_TAIL, report("tail", JobSpec.Mode.DSPARSE,
        memory("a:120:30", "b:120:30", "c:40:30"), 20, 300, 0.5), List.of("a", "b", "c"), "tail"));
    SimulationReport report = report(simulation(PLAIN), List.of(setting("loopback", baselines())),
        List.of(setting("shaped", shaped)));
    List<SimulationReport.Row> rows = report.rows();
    assertEquals(6, rows.size(), rows.toString());
    SimulationReport.Comparison fits = (SimulationReport.Comparison) rows.get(4);
    assertEquals("full-where-fits", fits.baseline());
    assertEquals("shaped", fits.links());
    assertTrue(fits.derived());
    // Its loopback run of the same setting and protocol did not run: no accuracy to derive from.
    SimulationReport.NotRun tail = (SimulationReport.NotRun) rows.get(5);
    assertTrue(tail.reason().contains("full-length run"), tail.reason());
  }

  @Test
  void onTheLabTheRowsNameItsProfiles() {
    SimulationConfig lab = simulation("[ { name = a, profile = pi4-2g }, { name = b, profile = pi4-2g },"
        + " { name = c, profile = jetson-4g } ]");
    SimulationReport report = report(lab, List.of(setting("loopback", baselines())), List.of());
    assertEquals("pi4-2g x2, jetson-4g x1", report.lab());
    report.rows().forEach(r -> assertEquals("pi4-2g x2, jetson-4g x1", r.json().get("lab").getAsString()));
  }
}
