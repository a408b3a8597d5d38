package org.dsparse.simulator;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dsparse.actors.job.JobReport;
import org.dsparse.core.cli.Table;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;

/**
 * An experiment's results as {@code results/<name>.json} and a plain-text comparison. Memory is the
 * measured resident growth of each device's process when devices ran one per JVM, else the memory
 * model's prediction ({@code memorySource} says which).
 */
public final class SimulationReport {
  private final SimulationConfig simulation;
  private final Simulation.Outcome outcome;

  public SimulationReport(SimulationConfig simulation, Simulation.Outcome outcome) {
    this.simulation = simulation;
    this.outcome = outcome;
  }

  /** The setting the top-level comparison reports: pre-trained when there was pre-training. */
  private Simulation.SettingResult primary() {
    return outcome.settings().get(0);
  }

  private boolean measured() {
    return simulation.processes();
  }

  /** A job's report of one device; reports list devices by name, the experiment in its own order. */
  private static JobReport.DeviceReport of(JobReport report, String device) {
    return report.devices().stream().filter(d -> d.name().equals(device)).findFirst()
        .orElseThrow(() -> new IllegalStateException("job " + report.spec().jobId() + " has no device " + device));
  }

  private static long memory(JobReport.DeviceReport d, boolean measured) {
    return measured ? d.measuredBytes() : d.predictedBytes();
  }

  public JsonObject json() {
    JsonObject root = new JsonObject();
    root.addProperty("experiment", simulation.name());
    root.addProperty("processes", simulation.processes());
    root.addProperty("memorySource", measured() ? "measured" : "predicted");
    root.addProperty("setting", primary().setting());
    root.addProperty("fullUpdatePredictedBytes", outcome.fullUpdatePredictedBytes());
    Map<JobSpec.Mode, JobReport> reports = primary().reports();
    JobReport full = reports.get(JobSpec.Mode.FULL);
    JobReport sparse = reports.get(JobSpec.Mode.DSPARSE);
    JsonArray devices = new JsonArray();
    for (int i = 0; i < simulation.devices().size(); i++) {
      JsonObject d = new JsonObject();
      d.addProperty("name", simulation.devices().get(i).name());
      d.addProperty("budgetBytes", outcome.budgets().get(i));
      String name = simulation.devices().get(i).name();
      if (full != null) {
        d.addProperty("fullMeasuredBytes", of(full, name).measuredBytes());
        d.addProperty("fullPredictedBytes", of(full, name).predictedBytes());
      }
      if (sparse != null) {
        d.addProperty("dsparseMeasuredBytes", of(sparse, name).measuredBytes());
        d.addProperty("dsparsePredictedBytes", of(sparse, name).predictedBytes());
        d.addProperty("updatedLayers", of(sparse, name).updatedLayers());
        d.addProperty("dsparseAggMillisPerStep", of(sparse, name).aggMillisPerStep());
      }
      devices.add(d);
    }
    root.add("devices", devices);
    reports.forEach((mode, report) -> root.add(key(mode), modeJson(report)));
    for (Simulation.SettingResult other : outcome.settings().subList(1, outcome.settings().size())) {
      JsonObject setting = new JsonObject();
      other.reports().forEach((mode, report) -> setting.add(key(mode), modeJson(report)));
      root.add(other.setting(), setting);
    }
    if (!outcome.variants().isEmpty()) {
      JsonArray variants = new JsonArray();
      outcome.variants().forEach((name, report) -> {
        JsonObject row = modeJson(report);
        row.addProperty("name", name);
        row.addProperty("averagingInterval", report.spec().averagingInterval());
        row.addProperty("refreshInterval", report.spec().refreshInterval());
        row.addProperty("planner", report.spec().planner().toString());
        if (full != null) {
          row.addProperty("memoryReduction", memoryReduction(full, report));
          row.addProperty("aggregationReduction", 1 - report.aggMillisPerStep() / full.aggMillisPerStep());
          row.addProperty("accuracyDeltaPoints", 100 * (report.testAccuracy() - full.testAccuracy()));
        }
        JsonArray memory = new JsonArray();
        for (DeviceProfile d : simulation.devices()) {
          JsonObject m = new JsonObject();
          m.addProperty("name", d.name());
          m.addProperty("measuredBytes", of(report, d.name()).measuredBytes());
          m.addProperty("predictedBytes", of(report, d.name()).predictedBytes());
          m.addProperty("updatedLayers", of(report, d.name()).updatedLayers());
          memory.add(m);
        }
        row.add("devices", memory);
        row.addProperty("plan", report.plan());
        variants.add(row);
      });
      root.add("variants", variants);
    }
    JsonArray runs = new JsonArray();
    outcome.settings().forEach(r -> runs.add(runJson(r)));
    root.add("runs", runs);
    JsonArray timings = new JsonArray();
    outcome.timings().forEach(r -> timings.add(runJson(r)));
    root.add("timings", timings);
    JsonArray comparisons = new JsonArray();
    rows().forEach(c -> comparisons.add(c.json()));
    root.add("comparisons", comparisons);
    if (outcome.pretrain() != null) {
      JsonObject p = new JsonObject();
      p.addProperty("heldOutFraction", simulation.job().spec().heldOutFraction());
      p.addProperty("epochs", simulation.pretrainEpochs());
      p.addProperty("samples", outcome.pretrain().samples());
      p.addProperty("testAccuracy", outcome.pretrain().testAccuracy());
      p.addProperty("how", "one process trains every layer (same model, seed, optimizer and batch as the job) "
          + "on the seeded held-out share of the training set that the job's devices never see");
      root.add("pretrain", p);
    }
    if (full != null && sparse != null) {
      JsonObject s = new JsonObject();
      s.addProperty("memoryReduction", memoryReduction(full, sparse));
      s.addProperty("aggregationReduction", 1 - sparse.aggMillisPerStep() / full.aggMillisPerStep());
      s.addProperty("accuracyDeltaPoints", 100 * (sparse.testAccuracy() - full.testAccuracy()));
      root.add("summary", s);
      root.addProperty("plan", sparse.plan());
    }
    return root;
  }

  private JsonObject runJson(Simulation.SettingResult r) {
    JsonObject run = new JsonObject();
    run.addProperty("setting", r.setting());
    run.addProperty("protocol", r.protocol());
    run.addProperty("links", r.links());
    r.reports().forEach((mode, report) -> run.add(key(mode), modeJson(report)));
    if (!r.baselines().isEmpty()) {
      JsonObject baselines = new JsonObject();
      r.baselines().forEach((baseline, b) -> baselines.add(baseline.key(), baselineJson(b)));
      run.add("baselines", baselines);
    }
    if (r.repeats().size() > 1) {
      JsonArray repeats = new JsonArray();
      for (Map<JobSpec.Mode, JobReport> repeat : r.repeats()) {
        JsonObject times = new JsonObject();
        repeat.forEach((mode, report) -> {
          JsonObject t = new JsonObject();
          t.addProperty("jobId", report.spec().jobId());
          t.addProperty("stepMillis", report.stepMillis());
          t.addProperty("aggMillisPerStep", report.aggMillisPerStep());
          times.add(key(mode), t);
        });
        repeats.add(times);
      }
      run.add("repeats", repeats);
    }
    return run;
  }

  /** One row of {@code comparisons}: DSparse against a baseline, or a baseline that did not run. */
  sealed interface Row permits Comparison, NotRun {
    JsonObject json();
  }

  /** The baseline the full update is in the rows: {@code full}. */
  static final String FULL = "full";

  /**
   * DSparse against a baseline (the full update, {@code full}, or one of {@link Baseline}'s) at the
   * same protocol, setting and links (fractions: positive = DSparse less). Timing runs on shaped links
   * take accuracy, and the steps at which each reached the baseline's final accuracy, from the
   * full-length run of the same setting and protocol, which trains identically whatever the links:
   * their time to accuracy is those steps times the shaped median step ({@code derived}).
   *
   * @param lab the devices' lab profiles ({@code pi4-2g x2, jetson-4g x3}); null off the lab
   * @param baselineDevices the devices the baseline ran on (DSparse ran on every device)
   * @param note how the baseline ran; empty for the full update
   */
  record Comparison(String baseline, String protocol, String links, String setting, String lab,
      List<String> baselineDevices, String note, double memoryCut, double aggregationCut,
      double wireBytesCut, double accuracyDelta, Double timeToAccuracyRatio, boolean derived,
      double baselineAggMillis, double dsparseAggMillis, double baselineWireBytes, double dsparseWireBytes,
      double baselineStepMillis, double dsparseStepMillis, Double baselineSecondsToAccuracy,
      Double dsparseSecondsToAccuracy, double commonAccuracy, Double timeToCommonAccuracyRatio) implements Row {
    @Override
    public JsonObject json() {
      JsonObject c = identity(baseline, protocol, links, setting, lab);
      JsonArray devices = new JsonArray();
      baselineDevices.forEach(devices::add);
      c.add("baselineDevices", devices);
      if (!note.isEmpty()) {
        c.addProperty("note", note);
      }
      c.addProperty("memoryCut", memoryCut);
      c.addProperty("aggregationCut", aggregationCut);
      c.addProperty("wireBytesCut", wireBytesCut);
      c.addProperty("accuracyDelta", accuracyDelta);
      c.addProperty("timeToAccuracyRatio", timeToAccuracyRatio);
      c.addProperty("commonAccuracy", commonAccuracy);
      c.addProperty("timeToCommonAccuracyRatio", timeToCommonAccuracyRatio);
      // The full update's rows keep the names they had before there were other baselines.
      if (baseline.equals(FULL)) {
        c.addProperty("fullAggMillisPerStep", baselineAggMillis);
        c.addProperty("fullWireBytesPerStepPerDevice", baselineWireBytes);
        c.addProperty("fullStepMillis", baselineStepMillis);
        c.addProperty("fullSecondsToFullAccuracy", baselineSecondsToAccuracy);
        c.addProperty("dsparseSecondsToFullAccuracy", dsparseSecondsToAccuracy);
      }
      c.addProperty("dsparseAggMillisPerStep", dsparseAggMillis);
      c.addProperty("dsparseWireBytesPerStepPerDevice", dsparseWireBytes);
      c.addProperty("dsparseStepMillis", dsparseStepMillis);
      c.addProperty("baselineAggMillisPerStep", baselineAggMillis);
      c.addProperty("baselineWireBytesPerStepPerDevice", baselineWireBytes);
      c.addProperty("baselineStepMillis", baselineStepMillis);
      c.addProperty("baselineSecondsToBaselineAccuracy", baselineSecondsToAccuracy);
      c.addProperty("dsparseSecondsToBaselineAccuracy", dsparseSecondsToAccuracy);
      c.addProperty("accuracyAndTimeToAccuracy", derived
          ? "derived: accuracy and the steps to reach it from the full-length loopback run of the same setting"
              + " and protocol, times this run's median step"
          : "measured in this run");
      return c;
    }
  }

  /** A baseline that did not run in a setting and protocol: its row has the reason and no figures. */
  record NotRun(String baseline, String protocol, String links, String setting, String lab, String reason)
      implements Row {
    @Override
    public JsonObject json() {
      JsonObject c = identity(baseline, protocol, links, setting, lab);
      c.addProperty("notRun", reason);
      for (String figure : List.of("memoryCut", "aggregationCut", "wireBytesCut", "accuracyDelta",
          "timeToAccuracyRatio")) {
        c.add(figure, com.google.gson.JsonNull.INSTANCE);
      }
      return c;
    }
  }

  private static JsonObject identity(String baseline, String protocol, String links, String setting, String lab) {
    JsonObject c = new JsonObject();
    c.addProperty("baseline", baseline);
    c.addProperty("protocol", protocol);
    c.addProperty("links", links);
    c.addProperty("setting", setting);
    c.addProperty("lab", lab);
    return c;
  }

  /** Every row: each setting's and timing run's, the full update's first, then the baselines' in their order. */
  List<Row> rows() {
    List<Row> out = new java.util.ArrayList<>();
    for (Simulation.SettingResult r : outcome.settings()) {
      out.addAll(rows(r, r));
    }
    for (Simulation.SettingResult timing : outcome.timings()) {
      outcome.settings().stream()
          .filter(r -> r.setting().equals(timing.setting()) && r.protocol().equals(timing.protocol()))
          .findFirst().ifPresent(r -> out.addAll(rows(timing, r)));
    }
    return out;
  }

  /** The rows with figures. */
  List<Comparison> comparisons() {
    return rows().stream().filter(Comparison.class::isInstance).map(Comparison.class::cast).toList();
  }

  /** {@code timed}'s time and bytes, {@code trained}'s accuracy: the same run unless timed is a timing run. */
  private List<Row> rows(Simulation.SettingResult timed, Simulation.SettingResult trained) {
    JobReport sparse = timed.reports().get(JobSpec.Mode.DSPARSE);
    JobReport sparseTrained = trained.reports().get(JobSpec.Mode.DSPARSE);
    if (sparse == null || sparseTrained == null) {
      return List.of();
    }
    List<Row> rows = new java.util.ArrayList<>();
    JobReport full = timed.reports().get(JobSpec.Mode.FULL);
    JobReport fullTrained = trained.reports().get(JobSpec.Mode.FULL);
    List<String> everyDevice = simulation.devices().stream().map(DeviceProfile::name).toList();
    if (full != null && fullTrained != null) {
      rows.add(comparison(FULL, everyDevice, "", full, sparse, fullTrained, sparseTrained, timed, timed != trained));
    }
    for (Map.Entry<Baseline, BaselineRun> b : timed.baselines().entrySet()) {
      BaselineRun run = b.getValue();
      BaselineRun trainedRun = trained.baselines().get(b.getKey());
      String key = b.getKey().key();
      if (!run.ran()) {
        rows.add(new NotRun(key, timed.protocol(), timed.links(), timed.setting(), lab(), run.note()));
      } else if (trainedRun == null || !trainedRun.ran()) {
        rows.add(new NotRun(key, timed.protocol(), timed.links(), timed.setting(), lab(),
            "no accuracy: its full-length run of the same setting and protocol did not run"
                + (trainedRun == null ? "" : " (" + trainedRun.note() + ")")));
      } else {
        rows.add(comparison(key, run.devices(), run.note(), run.report().orElseThrow(), sparse,
            trainedRun.report().orElseThrow(), sparseTrained, timed, timed != trained));
      }
    }
    return rows;
  }

  private Comparison comparison(String baseline, List<String> baselineDevices, String note, JobReport base,
      JobReport sparse, JobReport baseTrained, JobReport sparseTrained, Simulation.SettingResult timed,
      boolean derived) {
    // Means over steps, not medians: under periodic averaging most steps aggregate nothing.
    double baseStep = derived ? base.stepMillis() : Double.NaN;
    double sparseStep = derived ? sparse.stepMillis() : Double.NaN;
    double target = baseTrained.testAccuracy();
    Double baseSeconds = secondsTo(baseTrained, target, baseStep);
    Double sparseSeconds = secondsTo(sparseTrained, target, sparseStep);
    double common = Math.min(target, sparseTrained.testAccuracy());
    return new Comparison(baseline, timed.protocol(), timed.links(), timed.setting(), lab(), baselineDevices, note,
        memoryReduction(base, sparse), 1 - sparse.aggMillisPerStep() / base.aggMillisPerStep(),
        1 - sparse.wireBytesPerStepPerDevice() / base.wireBytesPerStepPerDevice(),
        100 * (sparseTrained.testAccuracy() - baseTrained.testAccuracy()), ratio(sparseSeconds, baseSeconds), derived,
        base.aggMillisPerStep(), sparse.aggMillisPerStep(), base.wireBytesPerStepPerDevice(),
        sparse.wireBytesPerStepPerDevice(), base.stepMillis(), sparse.stepMillis(), baseSeconds, sparseSeconds,
        common, ratio(secondsTo(sparseTrained, common, sparseStep), secondsTo(baseTrained, common, baseStep)));
  }

  /**
   * The lab profiles of the experiment's devices, each with how many devices run it, in the devices'
   * order ({@code pi4-2g x2, jetson-4g x3}); null when no device runs under one.
   */
  String lab() {
    Map<String, Integer> profiles = new java.util.LinkedHashMap<>();
    simulation.devices().forEach(d -> d.lab().ifPresent(p -> profiles.merge(p.name(), 1, Integer::sum)));
    return profiles.isEmpty() ? null : String.join(", ", profiles.entrySet().stream()
        .map(e -> e.getKey() + " x" + e.getValue()).toList());
  }

  /** A baseline's run in {@code runs}: its figures as a mode's, the devices and how it ran; or why it did not. */
  private JsonObject baselineJson(BaselineRun b) {
    JsonObject json = b.report().map(this::modeJson).orElseGet(JsonObject::new);
    json.addProperty("ran", b.ran());
    json.addProperty(b.ran() ? "note" : "notRun", b.note());
    b.report().ifPresent(r -> {
      json.addProperty("jobId", r.spec().jobId());
      JsonArray devices = new JsonArray();
      b.devices().forEach(devices::add);
      json.add("ranOn", devices);
      json.addProperty("plan", r.plan());
    });
    return json;
  }

  private static Double ratio(Double numerator, Double denominator) {
    return numerator == null || denominator == null || denominator == 0 ? null : numerator / denominator;
  }

  /**
   * Training seconds until {@code run} first reached {@code target}; with {@code stepMillis} given (not
   * NaN), the steps it took times that step time. Null when it never did.
   */
  private static Double secondsTo(JobReport run, double target, double stepMillis) {
    return run.firstReaching(target)
        .map(p -> Double.isNaN(stepMillis) ? p.trainingSeconds() : p.step() * stepMillis / 1000)
        .orElse(null);
  }

  private double memoryReduction(JobReport full, JobReport sparse) {
    double sum = 0;
    for (JobReport.DeviceReport f : full.devices()) {
      sum += 1 - (double) memory(of(sparse, f.name()), measured()) / memory(f, measured());
    }
    return sum / full.devices().size();
  }

  private static String key(JobSpec.Mode mode) {
    return mode.name().toLowerCase(Locale.ROOT);
  }

  private JsonObject modeJson(JobReport report) {
    JsonObject m = new JsonObject();
    m.addProperty("protocol", report.spec().protocol());
    m.addProperty("aggMillisPerStep", report.aggMillisPerStep());
    m.addProperty("medianAggMillis", report.medianAggMillis());
    m.addProperty("testAccuracy", report.testAccuracy());
    m.addProperty("stepMillis", report.stepMillis());
    m.addProperty("medianStepMillis", report.medianStepMillis());
    m.addProperty("medianComputeMillis", report.medianComputeMillis());
    m.addProperty("medianBackwardMillis", report.medianBackwardMillis());
    m.addProperty("steps", report.steps());
    m.addProperty("wireBytesPerStepPerDevice", report.wireBytesPerStepPerDevice());
    JsonObject byKind = new JsonObject();
    for (String kind : WIRE_KINDS) {
      byKind.addProperty(kind, report.wireBytesPerStepPerDevice(kind));
    }
    m.add("wireBytesPerStepPerDeviceByKind", byKind);
    if (!report.overlapSchedules().isEmpty()) {
      JsonArray schedules = new JsonArray();
      report.overlapSchedules().forEach(schedules::add);
      m.add("overlapSchedules", schedules);
    }
    Map<String, Long> link = outcome.linkBytesByJob().get(report.spec().jobId());
    if (link != null) {
      // tc's count on the shaped links: TCP/IP headers and Pekko's own traffic included, whole job.
      m.addProperty("linkBytesReceivedPerStepPerDevice",
          link.values().stream().mapToLong(Long::longValue).average().orElse(0) / Math.max(1, report.steps()));
    }
    JsonArray curve = new JsonArray();
    for (JobReport.AccuracyPoint point : report.accuracyCurve()) {
      JsonObject p = new JsonObject();
      p.addProperty("step", point.step());
      p.addProperty("trainingSeconds", point.trainingSeconds());
      p.addProperty("accuracy", point.accuracy());
      curve.add(p);
    }
    m.add("accuracyCurve", curve);
    m.addProperty("computeMillisPerStep",
        report.devices().stream().mapToDouble(JobReport.DeviceReport::computeMillisPerStep).average().orElse(0));
    m.addProperty("payloadBytesPerStepPerDevice",
        report.devices().stream().mapToDouble(JobReport.DeviceReport::bytesPerStep).average().orElse(0));
    JsonArray devices = new JsonArray();
    Map<String, LabMeasure> lab = outcome.labByJob().getOrDefault(report.spec().jobId(), Map.of());
    for (JobReport.DeviceReport d : report.devices()) {
      JsonObject device = new JsonObject();
      device.addProperty("name", d.name());
      device.addProperty("measuredBytes", d.measuredBytes());
      device.addProperty("predictedBytes", d.predictedBytes());
      LabMeasure kernel = lab.get(d.name());
      if (kernel != null) {
        // The whole process as the kernel charged it (anonymous memory of its cgroup), and as predicted.
        device.addProperty("profile", kernel.profile());
        device.addProperty("memoryLimitBytes", kernel.memoryLimitBytes());
        device.addProperty("peakBytes", kernel.peakAnonymousBytes());
        device.addProperty("predictedProcessBytes", kernel.predictedProcessBytes(d.budgetBytes(), d.predictedBytes()));
        device.addProperty("oomKilled", kernel.oomKilled());
      }
      device.addProperty("updatedLayers", d.updatedLayers());
      device.addProperty("aggMillisPerStep", d.aggMillisPerStep());
      device.addProperty("wireBytesPerStep", d.wireBytesPerStep());
      JsonArray wire = new JsonArray();
      for (WireBytes w : d.wire()) {
        JsonObject row = new JsonObject();
        row.addProperty("group", w.group());
        row.addProperty("kind", w.kind());
        row.addProperty("sentBytesPerStep", w.sent() / (double) Math.max(1, d.steps()));
        row.addProperty("receivedBytesPerStep", w.received() / (double) Math.max(1, d.steps()));
        wire.add(row);
      }
      device.add("wire", wire);
      devices.add(device);
    }
    m.add("devices", devices);
    JsonArray accuracies = new JsonArray();
    report.epochAccuracies().forEach(accuracies::add);
    m.add("epochAccuracies", accuracies);
    JsonArray losses = new JsonArray();
    report.epochLosses().forEach(losses::add);
    m.add("epochLosses", losses);
    return m;
  }

  /**
   * The primary setting's figures beside the JSON, {@code <name>-memory.png} (each device's training
   * memory, full against DSparse), {@code <name>-time.png} (aggregation and step time per step) and
   * {@code <name>-accuracy.png} (test accuracy against steps, both modes); answers the files.
   */
  public List<Path> plots(Path dir) throws IOException {
    Map<JobSpec.Mode, JobReport> reports = primary().reports();
    JobReport full = reports.get(JobSpec.Mode.FULL);
    JobReport sparse = reports.get(JobSpec.Mode.DSPARSE);
    if (full == null || sparse == null) {
      return List.of();
    }
    String name = simulation.name();
    Map<String, Map<String, Double>> memory = new java.util.LinkedHashMap<>();
    Map<String, Map<String, Double>> time = new java.util.LinkedHashMap<>();
    Map<String, List<double[]>> accuracy = new java.util.LinkedHashMap<>();
    for (var mode : List.of(Map.entry("full update", full), Map.entry("DSparse", sparse))) {
      Map<String, Double> perDevice = new java.util.LinkedHashMap<>();
      for (var device : simulation.devices()) {
        perDevice.put(device.name(), memory(of(mode.getValue(), device.name()), measured()) / 1048576.0);
      }
      memory.put(mode.getKey(), perDevice);
      Map<String, Double> perStep = new java.util.LinkedHashMap<>();
      perStep.put("aggregation (mean)", mode.getValue().aggMillisPerStep());
      perStep.put("step (median)", mode.getValue().medianStepMillis());
      time.put(mode.getKey(), perStep);
      accuracy.put(mode.getKey(), mode.getValue().accuracyCurve().stream()
          .map(p -> new double[] {p.step(), 100 * p.accuracy()}).toList());
    }
    String setting = primary().setting() + ", protocol " + primary().protocol() + ", " + primary().links() + " links";
    return List.of(
        Plots.bars(dir.resolve(name + "-memory.png"), "Training memory per device (" + (measured() ? "measured"
            : "predicted") + "), " + setting, "MiB", memory),
        Plots.bars(dir.resolve(name + "-time.png"), "Time per step, " + setting, "ms", time),
        Plots.lines(dir.resolve(name + "-accuracy.png"), "Test accuracy, " + setting, "steps", "accuracy %",
            accuracy));
  }

  public void write(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    // Nulls written out: a row's lab off the lab, a time to an accuracy never reached, a baseline's figures.
    Files.writeString(file, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
        .serializeNulls().create().toJson(json()));
  }

  /** The comparison table. */
  public String table() {
    StringBuilder out = new StringBuilder();
    for (Simulation.SettingResult setting : outcome.settings()) {
      JobReport full = setting.reports().get(JobSpec.Mode.FULL);
      JobReport sparse = setting.reports().get(JobSpec.Mode.DSPARSE);
      out.append("== ").append(simulation.name()).append(", ").append(setting.setting())
          .append(setting.setting().equals("pretrained") ? " (from the pre-trained checkpoint)" : " (from a fresh model)")
          .append(", protocol ").append(setting.protocol()).append(" in both modes, ").append(setting.links())
          .append(" links ==\n");
      if (full == null || sparse == null) {
        setting.reports().forEach((mode, r) -> out.append(String.format(Locale.ROOT,
            "%s: test accuracy %.2f%%, aggregation %.1f ms/step, step %.0f ms%n", key(mode), 100 * r.testAccuracy(),
            r.aggMillisPerStep(), r.stepMillis())));
        continue;
      }
      String source = measured() ? "measured" : "predicted";
      Table devices = new Table("device", "budget MiB", "full MiB", "dsparse MiB", "saved", "layers",
          "dsparse agg ms");
      for (int i = 0; i < simulation.devices().size(); i++) {
        JobReport.DeviceReport f = of(full, simulation.devices().get(i).name());
        JobReport.DeviceReport s = of(sparse, f.name());
        devices.row(f.name(), Table.mib(outcome.budgets().get(i)), Table.mib(memory(f, measured())),
            Table.mib(memory(s, measured())),
            percent(1 - (double) memory(s, measured()) / memory(f, measured())), s.updatedLayers(),
            String.format(Locale.ROOT, "%.1f", s.aggMillisPerStep()));
      }
      out.append("training memory per device (").append(source).append("):\n").append(devices).append('\n');
      Table modes = new Table("", "full", "dsparse", "change");
      modes.row("aggregation ms/step", fmt(full.aggMillisPerStep()), fmt(sparse.aggMillisPerStep()),
          percent(sparse.aggMillisPerStep() / full.aggMillisPerStep() - 1));
      modes.row("median aggregation ms/step", fmt(full.medianAggMillis()), fmt(sparse.medianAggMillis()),
          percent(sparse.medianAggMillis() / full.medianAggMillis() - 1));
      modes.row("wire MB/step per device", mb(full.wireBytesPerStepPerDevice()),
          mb(sparse.wireBytesPerStepPerDevice()),
          percent(sparse.wireBytesPerStepPerDevice() / full.wireBytesPerStepPerDevice() - 1));
      modes.row("step ms", fmt(full.stepMillis()), fmt(sparse.stepMillis()),
          percent(sparse.stepMillis() / full.stepMillis() - 1));
      modes.row("test accuracy %", fmt(100 * full.testAccuracy()), fmt(100 * sparse.testAccuracy()),
          String.format(Locale.ROOT, "%+.2f pt", 100 * (sparse.testAccuracy() - full.testAccuracy())));
      modes.row("mean memory saving", "", "", percent(memoryReduction(full, sparse)));
      out.append(modes).append('\n');
    }
    List<Comparison> comparisons = comparisons();
    if (!comparisons.isEmpty()) {
      Table same = new Table("against", "protocol", "links", "setting", "memory saving", "agg ms baseline",
          "agg ms dsparse", "change", "wire MB/step baseline", "wire MB/step dsparse", "change", "accuracy vs baseline",
          "time to its acc.", "time to the lower acc.");
      for (Comparison c : comparisons) {
        same.row(c.baseline(), c.protocol(), c.links(), c.setting(), percent(c.memoryCut()), fmt(c.baselineAggMillis()),
            fmt(c.dsparseAggMillis()), percent(-c.aggregationCut()), mb(c.baselineWireBytes()), mb(c.dsparseWireBytes()),
            percent(-c.wireBytesCut()), String.format(Locale.ROOT, "%+.2f pt%s", c.accuracyDelta(), c.derived() ? "*" : ""),
            c.timeToAccuracyRatio() == null ? "not reached" : String.format(Locale.ROOT, "%.2fx%s",
                c.timeToAccuracyRatio(), c.derived() ? "*" : ""),
            c.timeToCommonAccuracyRatio() == null ? "-" : String.format(Locale.ROOT, "%.2fx (%.2f%%)%s",
                c.timeToCommonAccuracyRatio(), 100 * c.commonAccuracy(), c.derived() ? "*" : ""));
      }
      out.append("DSparse against each baseline at the same protocol (full: the full update on every device; "
          + "full-where-fits: on the devices whose budget holds it; uniform-tail: every device the same last layers;"
          + " aggregation per step, mean over steps; wire bytes sent plus received per device per step, counted by"
          + " the transports; time to accuracy: DSparse's training time over the baseline's):\n").append(same);
      if (comparisons.stream().anyMatch(Comparison::derived)) {
        out.append("* derived: accuracy and steps to it from the loopback run of the same setting and protocol\n");
      }
      String lab = lab();
      if (lab != null) {
        out.append("on the lab: ").append(lab).append('\n');
      }
      comparisons.stream().filter(c -> !c.note().isEmpty()).map(c -> c.baseline() + ": " + c.note()).distinct()
          .forEach(line -> out.append(line).append('\n'));
      out.append('\n');
    }
    for (Row row : rows()) {
      if (row instanceof NotRun n) {
        out.append(String.format(Locale.ROOT, "%s (%s, %s, %s links): not run: %s%n", n.baseline(), n.setting(),
            n.protocol(), n.links(), n.reason()));
      }
    }
    JobReport full = primary().reports().get(JobSpec.Mode.FULL);
    if (!outcome.variants().isEmpty() && full != null) {
      Table variants = new Table("dsparse variant (" + primary().setting() + ", against the " + primary().protocol()
          + " full update; another protocol is marked)", "averaging", "refresh",
          "memory saving", "aggregation ms/step", "change", "test accuracy %", "vs full");
      outcome.variants().forEach((name, r) -> variants.row(
          name + (r.spec().protocol().equals(primary().protocol()) ? "" : " (" + r.spec().protocol() + ": across protocols)"),
          r.spec().averagingInterval(),
          r.spec().refreshInterval(), percent(memoryReduction(full, r)), fmt(r.aggMillisPerStep()),
          percent(r.aggMillisPerStep() / full.aggMillisPerStep() - 1), fmt(100 * r.testAccuracy()),
          String.format(Locale.ROOT, "%+.2f pt", 100 * (r.testAccuracy() - full.testAccuracy()))));
      out.append(variants).append('\n');
    }
    return out.toString();
  }

  private static final List<String> WIRE_KINDS = List.of(WireBytes.ALL_REDUCE, WireBytes.BROADCAST,
      WireBytes.REFRESH, WireBytes.SHARD, WireBytes.CONTROL);

  private static String mb(double bytes) {
    return String.format(Locale.ROOT, "%.3f", bytes / 1e6);
  }

  private static String fmt(double value) {
    return String.format(Locale.ROOT, "%.1f", value);
  }

  private static String percent(double fraction) {
    return String.format(Locale.ROOT, "%+.1f%%", 100 * fraction);
  }
}
