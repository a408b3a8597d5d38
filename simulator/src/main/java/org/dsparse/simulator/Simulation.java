package org.dsparse.simulator;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.job.JobReport;
import org.dsparse.actors.job.ProgressPrinter;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.step.Compute;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.MemoryModels;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.Pretraining;

/** Runs an experiment: optional pre-training, then each mode on a fresh cluster. */
public final class Simulation {
  // A lab device at a tenth of a core starts its JVM, Pekko and PyTorch in a minute or more.
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(300);

  private final SimulationConfig simulation;
  private final Config config;
  private final Path workDir;
  private final Consumer<String> log;
  /** Given every job's events besides the progress lines (the dashboard). */
  private final Consumer<JobEvent> watcher;
  /** Per job id, the bytes each device received on its shaped link during the job (tc's counters). */
  private final Map<String, Map<String, Long>> linkBytesByJob = new LinkedHashMap<>();
  /** Per job id, what the kernel charged each lab device (failed jobs too). */
  private final Map<String, Map<String, LabMeasure>> labByJob = new LinkedHashMap<>();

  public Simulation(SimulationConfig simulation, Config config, Path workDir, Consumer<String> log) {
    this(simulation, config, workDir, log, event -> {});
  }

  /** An experiment whose jobs' events also go to {@code watcher}. */
  public Simulation(SimulationConfig simulation, Config config, Path workDir, Consumer<String> log,
      Consumer<JobEvent> watcher) {
    this.simulation = simulation;
    this.config = config;
    this.workDir = workDir;
    this.log = log;
    this.watcher = watcher;
  }

  /**
   * One setting's runs under one protocol: the reports of each mode.
   *
   * @param setting {@code pretrained} or {@code scratch}
   * @param protocol {@code sync} or {@code periodic-N}
   * @param links {@code loopback}, or {@code shaped} when the devices' links were shaped
   * @param reports each mode's report: with repeats, its median run by mean step time
   * @param repeats every repeat's reports, in the order they ran (one entry without repeats)
   * @param baselines each baseline's run beside the modes (with repeats, its median run), in the
   *     configured order
   */
  public record SettingResult(String setting, String protocol, String links, Map<JobSpec.Mode, JobReport> reports,
      List<Map<JobSpec.Mode, JobReport>> repeats, Map<Baseline, BaselineRun> baselines) {

    public SettingResult {
      baselines = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(baselines));
    }

    SettingResult(String setting, String protocol, String links, Map<JobSpec.Mode, JobReport> reports,
        Map<Baseline, BaselineRun> baselines) {
      this(setting, protocol, links, reports, List.of(reports), baselines);
    }

    /** The same runs repeated: each mode's and baseline's median run by mean step time, all modes' runs kept. */
    static SettingResult medianOf(List<SettingResult> repeats) {
      SettingResult first = repeats.get(0);
      Map<JobSpec.Mode, JobReport> median = new LinkedHashMap<>();
      for (JobSpec.Mode mode : first.reports().keySet()) {
        List<JobReport> runs = repeats.stream().map(r -> r.reports().get(mode))
            .sorted(java.util.Comparator.comparingDouble(JobReport::stepMillis)).toList();
        median.put(mode, runs.get((runs.size() - 1) / 2));
      }
      Map<Baseline, BaselineRun> baselines = new LinkedHashMap<>();
      for (Baseline b : first.baselines().keySet()) {
        baselines.put(b, BaselineRun.medianOf(repeats.stream().map(r -> r.baselines().get(b)).toList()));
      }
      return new SettingResult(first.setting(), first.protocol(), first.links(), median,
          repeats.stream().map(SettingResult::reports).toList(), baselines);
    }
  }

  /**
   * Everything an experiment produced: {@code settings} in setting-then-protocol order, the first being
   * the primary one the variants compare with; {@code timings} the timing runs on shaped links.
   */
  public record Outcome(List<Long> budgets, long fullUpdatePredictedBytes, Pretraining.Result pretrain,
      List<SettingResult> settings, Map<String, JobReport> variants, List<SettingResult> timings,
      Map<String, Map<String, Long>> linkBytesByJob, Map<String, Map<String, LabMeasure>> labByJob) {}

  /**
   * Runs the experiment. With shaped links it must run in a network namespace of its own, as
   * {@code SimulatorMain run} arranges: each job that shapes links installs them there while it runs.
   */
  public Outcome run() throws Exception {
    simulation.checkLinks();
    if (simulation.needsShapedLinks() && System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
      throw new UsageException("shaped links are installed in a network namespace of the simulator's own:"
          + " run the experiment with SimulatorMain run (or set every device's link = loopback)");
    }
    return runAll();
  }

  /**
   * Pre-trains the job's model on its held-out images for {@code pretrain.epochs} (none when 0), on this
   * process's threads, into {@code <name>-pretrained.ckpt} of the work folder; reuses an earlier one made
   * with the same recipe.
   */
  public java.util.Optional<Pretraining.Result> pretrain() throws IOException {
    if (simulation.pretrainEpochs() <= 0) {
      return java.util.Optional.empty();
    }
    JobSpec job = simulation.job().spec();
    Path checkpoint = workDir.resolve(simulation.name() + "-pretrained.ckpt");
    log.accept(String.format(Locale.ROOT, "pre-training %s on %.0f%% of the training set for %d epoch(s) ...",
        job.model(), 100 * job.heldOutFraction(), simulation.pretrainEpochs()));
    OptimizerKind kind = OptimizerKind.parse(job.optimizer());
    Pretraining.Result pretrain = Pretraining.run(job.model(), DataSource.parse(job.data(), "dsparse.job.data"),
        job.heldOutFraction(), job.seed(), job.batch(), new OptimizerSpec(kind,
            (float) simulation.pretrainLearningRate(),
            kind == OptimizerKind.SGD_MOMENTUM ? job.momentum() : 0, 0),
        simulation.pretrainEpochs(), checkpoint);
    log.accept(String.format(Locale.ROOT, "pre-trained on %d images: test accuracy %.2f%%, %s %s",
        pretrain.samples(), 100 * pretrain.testAccuracy(), pretrain.reused() ? "reused (same recipe)" : "saved",
        checkpoint));
    return java.util.Optional.of(pretrain);
  }

  private Outcome runAll() throws Exception {
    JobSpec job = simulation.job().spec();
    List<Long> budgets = budgets();
    List<SettingResult> settings = new ArrayList<>();
    Pretraining.Result pretrain = pretrain().orElse(null);
    if (pretrain != null) {
      Path checkpoint = pretrain.checkpoint();
      job = job.withInitialCheckpoint(checkpoint.toString());
      runProtocols("pretrained", checkpoint.toString(), budgets, settings);
      if (simulation.scratch()) {
        runProtocols("scratch", "", budgets, settings);
      }
    } else {
      runProtocols("scratch", job.initialCheckpoint(), budgets, settings);
    }
    Map<String, JobReport> variants = new LinkedHashMap<>();
    for (SimulationConfig.Variant variant : simulation.variants()) {
      String jobId = simulation.name() + "-" + settings.get(0).setting() + "-" + variant.name();
      log.accept("variant " + variant.name() + ": " + jobId + " ...");
      JobSpec spec = variant.spec().withMode(JobSpec.Mode.DSPARSE, jobId)
          .withInitialCheckpoint(settings.get(0).setting().equals("pretrained") ? job.initialCheckpoint() : "");
      variants.put(variant.name(), runJob(simulation.job().with(spec, simulation.devices().size()), budgets));
    }
    List<SettingResult> timings = new ArrayList<>();
    if (simulation.timing().enabled()) {
      List<DeviceProfile> shaped = simulation.devices().stream()
          .map(d -> d.withLink(simulation.timing().linkBitsPerSecond())).toList();
      for (JobSpec protocol : simulation.protocolsToRun()) {
        JobSpec spec = protocol.withInitialCheckpoint(job.initialCheckpoint())
            .withMaxStepsPerEpoch(simulation.timing().steps());
        List<SettingResult> repeats = new ArrayList<>();
        for (int r = 1; r <= simulation.timing().repeats(); r++) {
          repeats.add(runModes("shaped" + (simulation.timing().repeats() > 1 ? "-" + r : ""), spec, budgets, shaped,
              "shaped", settings.get(0).setting()));
        }
        timings.add(SettingResult.medianOf(repeats));
      }
    }
    return new Outcome(budgets, fullUpdatePredictedBytes(job, config), pretrain, settings, variants, timings,
        Map.copyOf(linkBytesByJob), Map.copyOf(labByJob));
  }

  /** Both modes under every protocol, from {@code checkpoint} (empty: a fresh model). */
  private void runProtocols(String setting, String checkpoint, List<Long> budgets, List<SettingResult> out)
      throws Exception {
    String links = ShapedLinks.anyShaped(simulation.devices()) ? "shaped" : "loopback";
    for (JobSpec protocol : simulation.protocolsToRun()) {
      out.add(runModes(setting, protocol.withInitialCheckpoint(checkpoint), budgets, simulation.devices(), links,
          setting));
    }
  }

  /**
   * @param tag names the jobs ({@code <name>-<tag>-<protocol>-<mode>})
   * @param setting the setting the result belongs to
   */
  private SettingResult runModes(String tag, JobSpec job, List<Long> budgets, List<DeviceProfile> devices,
      String links, String setting) throws Exception {
    Map<JobSpec.Mode, JobReport> reports = new LinkedHashMap<>();
    for (JobSpec.Mode mode : simulation.modes()) {
      String jobId = simulation.name() + "-" + tag + "-" + job.protocol() + "-" + mode.name().toLowerCase(Locale.ROOT);
      JobConfig run = simulation.job().with(job.withMode(mode, jobId), devices.size());
      log.accept("running " + jobId + " on " + devices.size() + " devices ("
          + (simulation.processes() ? "one JVM each" : "in this JVM") + ", " + links + " links) ...");
      reports.put(mode, runJob(run, budgets, devices));
    }
    Map<Baseline, BaselineRun> baselines = new LinkedHashMap<>();
    for (Baseline baseline : simulation.baselines()) {
      baselines.put(baseline, runBaseline(baseline, tag, job, budgets, devices, links, reports));
    }
    return new SettingResult(setting, job.protocol(), links, reports, baselines);
  }

  /**
   * One baseline beside the modes of {@code job}, with its data, seed, batch, protocol and DSparse's
   * steps; a job that fails is reported as not run, with its reason, and the experiment goes on.
   */
  private BaselineRun runBaseline(Baseline baseline, String tag, JobSpec job, List<Long> budgets,
      List<DeviceProfile> devices, String links, Map<JobSpec.Mode, JobReport> reports) throws Exception {
    JobReport sparse = reports.get(JobSpec.Mode.DSPARSE);
    String jobId = simulation.name() + "-" + tag + "-" + job.protocol() + "-" + baseline.key();
    List<String> names = devices.stream().map(DeviceProfile::name).toList();
    JobSpec spec;
    List<DeviceProfile> on = devices;
    List<Long> onBudgets = budgets;
    String note;
    if (baseline == Baseline.UNIFORM_TAIL) {
      spec = job.withMode(JobSpec.Mode.DSPARSE, jobId).withPlannerStrategy("uniform-tail");
      note = "every device updates the same last layers, the longest suffix that fits the smallest budget";
    } else {
      // The budgets the devices reported (a lab device's is what its process found it had) and the peak
      // the planner checked them against before this setting's full update; without that run, DSparse's,
      // whose plan counts the same peak but under update-micro-batch = auto (it plans micro-batches, the
      // full update runs whole batches): a device listed then may be refused, and the row says so.
      JobReport checked = reports.getOrDefault(JobSpec.Mode.FULL, sparse);
      Map<String, Long> reported = new LinkedHashMap<>();
      checked.devices().forEach(d -> reported.put(d.name(), d.budgetBytes()));
      Baseline.Subset fits = Baseline.whereFullFits(names, reported, checked.fullUpdatePeakBytes());
      if (fits.devices().isEmpty()) {
        log.accept(jobId + ": not run: " + fits.note());
        return BaselineRun.notRun(baseline, fits.note());
      }
      JobReport full = reports.get(JobSpec.Mode.FULL);
      if (fits.devices().size() == devices.size() && full != null) {
        // The same job on the same devices: the full update's own run, not run twice.
        return BaselineRun.ran(baseline, full, names, fits.note() + ": the full update's own run ("
            + full.spec().jobId() + ")");
      }
      on = devices.stream().filter(d -> fits.devices().contains(d.name())).toList();
      onBudgets = java.util.stream.IntStream.range(0, devices.size()).filter(i -> fits.devices().contains(names.get(i)))
          .mapToObj(budgets::get).toList();
      // Fewer devices hold more of the data each: cut to DSparse's steps per epoch, evaluated as it was.
      spec = job.withMode(JobSpec.Mode.FULL, jobId).withStepsPerEpochAtMost((int) (sparse.steps() / job.epochs()));
      note = fits.note();
    }
    log.accept("baseline " + baseline.key() + ": running " + jobId + " on " + on.size() + " devices (" + note + ") ...");
    try {
      JobReport report = runJob(simulation.job().with(spec, on.size()), onBudgets, on);
      return BaselineRun.ran(baseline, report, on.stream().map(DeviceProfile::name).toList(), note);
    } catch (SimulationFailedException e) {
      log.accept(jobId + ": not run: " + e.getMessage());
      return BaselineRun.notRun(baseline, e.getMessage());
    }
  }

  private JobReport runJob(JobConfig job, List<Long> budgets) throws Exception {
    return runJob(job, budgets, simulation.devices());
  }

  /**
   * One job on {@code devices} (their budgets in bytes, in order), in processes or in this JVM as the
   * experiment says; a benchmark that compares jobs of its own runs each through this.
   */
  public JobReport runJob(JobConfig job, List<Long> budgets, List<DeviceProfile> devices) throws Exception {
    return runJob(job, budgets, devices, java.util.Optional.empty());
  }

  /**
   * A device that starts once the job has reported step {@code afterStep}: it joins the cluster and
   * the running job (which adopts it at its next committed step, when elastic).
   *
   * @param budget its budget in bytes (0: a lab device finds its own)
   */
  public record Joiner(DeviceProfile device, long budget, long afterStep) {}

  /** The same, with {@code joiner} started while the job runs. */
  public JobReport runJob(JobConfig job, List<Long> budgets, List<DeviceProfile> devices,
      java.util.Optional<Joiner> joiner) throws Exception {
    Consumer<JobEvent> progress = new ProgressPrinter(log).andThen(watcher);
    if (job.spec().mode() == JobSpec.Mode.FULL && job.spec().planner().memoryCheck()
        && devices.stream().noneMatch(d -> d.lab().isPresent())) {
      // Off the lab nothing enforces a budget: it shapes DSparse's plan, and the full update is the
      // baseline that needs what it needs (reported as such), as the comparison has always meant.
      log.accept(job.spec().jobId() + ": the full update runs whatever the budgets (planner.memory-check off for"
          + " it): off the lab nothing enforces them");
      job = job.with(job.spec().withMemoryCheck(false), job.devices());
    }
    if (simulation.processes()) {
      // Links go after the cluster: it reads their counters as it closes.
      List<DeviceProfile> linked = new ArrayList<>(devices);
      joiner.ifPresent(j -> linked.add(j.device()));
      try (ShapedLinks links = ShapedLinks.anyShaped(linked) ? ShapedLinks.install(linked) : null) {
        ProcessCluster cluster = ProcessCluster.start(config, devices, budgets, JOIN_TIMEOUT, links);
        try {
          return await(cluster.coordinator(), job, progress.andThen(joining(joiner,
              j -> cluster.add(j.device(), j.budget(), devices.size(), JOIN_TIMEOUT))));
        } catch (SimulationFailedException e) {
          throw new SimulationFailedException(cluster.withOomKills(e.getMessage()));
        } finally {
          cluster.close();
          recordLinkBytes(job.spec().jobId(), cluster.linkBytesReceived());
          recordLab(job.spec().jobId(), cluster.labMeasures());
        }
      }
    }
    List<LocalCluster.Member> members = new ArrayList<>();
    for (int i = 0; i < devices.size(); i++) {
      DeviceProfile d = devices.get(i);
      members.add(new LocalCluster.Member(d.name(), Long.toString(budgets.get(i)),
          SlowedCompute.of(Compute.DJL_THREAD, d.computeSlowdown())));
    }
    try (LocalCluster cluster = LocalCluster.start(config, members, JOIN_TIMEOUT)) {
      return await(cluster.node(0), job, progress.andThen(joining(joiner, j -> cluster.add(
          new LocalCluster.Member(j.device().name(), Long.toString(j.budget()),
              SlowedCompute.of(Compute.DJL_THREAD, j.device().computeSlowdown())), JOIN_TIMEOUT))));
    }
  }

  /**
   * Starts {@code joiner} with {@code start}, on a thread of its own (it waits for the device to be
   * Up), the first time the job reports its step; nothing without one.
   */
  private Consumer<JobEvent> joining(java.util.Optional<Joiner> joiner, Consumer<Joiner> start) {
    java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();
    return event -> joiner.ifPresent(j -> {
      if (event instanceof JobEvent.StepReported step && step.step() >= j.afterStep() && started.compareAndSet(false,
          true)) {
        log.accept("simulator: device " + j.device().name() + " joins after step " + step.step());
        Thread thread = new Thread(() -> {
          try {
            start.accept(j);
          } catch (RuntimeException e) {
            log.accept("simulator: device " + j.device().name() + " could not join: " + e.getMessage());
          }
        }, "joiner-" + j.device().name());
        thread.setDaemon(true);
        thread.start();
      }
    });
  }

  private void recordLab(String jobId, Map<String, LabMeasure> measures) {
    if (measures.isEmpty()) {
      return;
    }
    labByJob.put(jobId, Map.copyOf(measures));
    StringBuilder line = new StringBuilder(jobId + ": kernel-charged peak (anonymous memory) per lab device:");
    measures.values().forEach(m -> line.append(' ').append(m.device()).append(' ')
        .append(m.peakAnonymousBytes() >> 20).append('/').append(m.memoryLimitBytes() >> 20).append(" MiB")
        .append(m.oomKilled() ? " OOM-KILLED" : "").append(','));
    log.accept(line.substring(0, line.length() - 1));
  }

  /** What the kernel charged each lab device in job {@code jobId}; empty when it ran no lab device. */
  public Map<String, LabMeasure> labMeasures(String jobId) {
    return labByJob.getOrDefault(jobId, Map.of());
  }

  /** Bytes each device received on its shaped link in job {@code jobId}, as tc counted them; empty when unshaped. */
  public Map<String, Long> linkBytes(String jobId) {
    return linkBytesByJob.getOrDefault(jobId, Map.of());
  }

  private void recordLinkBytes(String jobId, Map<String, Long> received) {
    if (received.isEmpty()) {
      return;
    }
    linkBytesByJob.put(jobId, Map.copyOf(received));
    StringBuilder line = new StringBuilder(jobId + ": link bytes received per device (tc):");
    received.forEach((device, bytes) -> line.append(' ').append(device).append(' ')
        .append(ShapedLinks.megabytes(bytes)).append(','));
    log.accept(line.substring(0, line.length() - 1));
  }

  private static JobReport await(DsparseNode node, JobConfig job, Consumer<JobEvent> progress) throws Exception {
    JobEvent end = node.submit(job, progress).get(7, TimeUnit.DAYS);
    if (end instanceof JobEvent.Failed failed) {
      throw new SimulationFailedException("job " + failed.jobId() + " failed: " + failed.reason());
    }
    return ((JobEvent.Succeeded) end).report();
  }

  /** Each device's budget in bytes, a percentage taken of the job's predicted full-update peak. */
  public List<Long> budgets() throws Exception {
    long fullUpdate = fullUpdatePredictedBytes(simulation.job().spec(), config);
    List<Long> budgets = new ArrayList<>();
    for (int i = 0; i < simulation.devices().size(); i++) {
      DeviceProfile device = simulation.devices().get(i);
      budgets.add(device.budgetBytes(fullUpdate, "dsparse.simulation.devices[" + i + "].budget (" + device.name() + ")"));
    }
    return budgets;
  }

  /** A cluster device's predicted full-update peak for the job's model, data shape, batch and optimizer. */
  private static long fullUpdatePredictedBytes(JobSpec job, Config config) throws Exception {
    DataSource source = DataSource.parse(job.data(), "dsparse.job.data");
    ImageSet sample = source.load(Split.TEST);
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create(job.model(),
          new Shape(sample.channels(), sample.height() * job.upsample(), sample.width() * job.upsample()),
          sample.classes(), job.seed())) {
        return new MemoryModel(model.layerCosts(), MemoryModels.clusterDeviceCoefficients(config))
            .fullUpdateBytes(job.batch(), OptimizerKind.parse(job.optimizer()));
      }
    });
  }

  /** A job failed; the message names the device or group at fault. */
  public static final class SimulationFailedException extends Exception {
    public SimulationFailedException(String message) {
      super(message);
    }
  }
}
