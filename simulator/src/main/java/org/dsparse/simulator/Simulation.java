package org.dsparse.simulator;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
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
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(90);

  private final SimulationConfig simulation;
  private final Config config;
  private final Path workDir;
  private final Consumer<String> log;
  /** Installed while {@link #run} runs when any device's link is shaped. */
  private ShapedLinks links;
  private final Map<String, Map<String, Long>> linkBytesSentByJob = new LinkedHashMap<>();

  public Simulation(SimulationConfig simulation, Config config, Path workDir, Consumer<String> log) {
    this.simulation = simulation;
    this.config = config;
    this.workDir = workDir;
    this.log = log;
  }

  /** One setting's runs: the reports of each mode. */
  public record SettingResult(String setting, Map<JobSpec.Mode, JobReport> reports) {}

  /** Everything an experiment produced. */
  public record Outcome(List<Long> budgets, long fullUpdatePredictedBytes, Pretraining.Result pretrain,
      List<SettingResult> settings, Map<String, JobReport> variants) {}

  /**
   * Runs the experiment. With shaped links it must run in a network namespace of its own, as
   * {@code SimulatorMain run} arranges: it installs the links there first.
   */
  public Outcome run() throws Exception {
    simulation.checkLinks();
    if (!ShapedLinks.anyShaped(simulation.devices())) {
      return runAll();
    }
    if (System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
      throw new UsageException("shaped links are installed in a network namespace of the simulator's own:"
          + " run the experiment with SimulatorMain run (or set every device's link = loopback)");
    }
    try (ShapedLinks installed = ShapedLinks.install(simulation.devices())) {
      links = installed;
      return runAll();
    } finally {
      links = null;
    }
  }

  /**
   * Per job id, the bytes each device sent on its shaped link during that job (tc's counters: TCP/IP
   * headers and all cluster traffic included); empty when no link is shaped.
   */
  public Map<String, Map<String, Long>> linkBytesSentByJob() {
    return Map.copyOf(linkBytesSentByJob);
  }

  private Outcome runAll() throws Exception {
    JobSpec job = simulation.job().spec();
    long fullUpdate = fullUpdatePredictedBytes(job, config);
    List<Long> budgets = new ArrayList<>();
    for (int i = 0; i < simulation.devices().size(); i++) {
      DeviceProfile device = simulation.devices().get(i);
      budgets.add(device.budgetBytes(fullUpdate, "dsparse.simulation.devices[" + i + "] (" + device.name() + ")"));
    }
    List<SettingResult> settings = new ArrayList<>();
    Pretraining.Result pretrain = null;
    if (simulation.pretrainEpochs() > 0) {
      Path checkpoint = workDir.resolve(simulation.name() + "-pretrained.ckpt");
      log.accept(String.format(Locale.ROOT, "pre-training %s on %.0f%% of the training set for %d epoch(s) ...",
          job.model(), 100 * job.heldOutFraction(), simulation.pretrainEpochs()));
      OptimizerKind kind = OptimizerKind.parse(job.optimizer());
      pretrain = Pretraining.run(job.model(), DataSource.parse(job.data(), "dsparse.job.data"),
          job.heldOutFraction(), job.seed(), job.batch(), new OptimizerSpec(kind,
              (float) simulation.pretrainLearningRate(),
              kind == OptimizerKind.SGD_MOMENTUM ? job.momentum() : 0, 0),
          simulation.pretrainEpochs(), checkpoint);
      log.accept(String.format(Locale.ROOT, "pre-trained on %d images: test accuracy %.2f%%, %s %s",
          pretrain.samples(), 100 * pretrain.testAccuracy(), pretrain.reused() ? "reused (same recipe)" : "saved",
          checkpoint));
      job = job.withInitialCheckpoint(checkpoint.toString());
      settings.add(runModes("pretrained", job, budgets));
      if (simulation.scratch()) {
        settings.add(runModes("scratch", job.withInitialCheckpoint(""), budgets));
      }
    } else {
      settings.add(runModes("scratch", job, budgets));
    }
    Map<String, JobReport> variants = new LinkedHashMap<>();
    for (SimulationConfig.Variant variant : simulation.variants()) {
      String jobId = simulation.name() + "-" + settings.get(0).setting() + "-" + variant.name();
      log.accept("variant " + variant.name() + ": " + jobId + " ...");
      JobSpec spec = variant.spec().withMode(JobSpec.Mode.DSPARSE, jobId)
          .withInitialCheckpoint(job.initialCheckpoint());
      variants.put(variant.name(), runJob(new JobConfig(spec, simulation.devices().size(),
          simulation.job().timeouts()), budgets));
    }
    return new Outcome(budgets, fullUpdate, pretrain, settings, variants);
  }

  private SettingResult runModes(String setting, JobSpec job, List<Long> budgets) throws Exception {
    Map<JobSpec.Mode, JobReport> reports = new LinkedHashMap<>();
    for (JobSpec.Mode mode : simulation.modes()) {
      String jobId = simulation.name() + "-" + setting + "-" + mode.name().toLowerCase(Locale.ROOT);
      JobConfig run = new JobConfig(job.withMode(mode, jobId), simulation.devices().size(),
          simulation.job().timeouts());
      log.accept("running " + jobId + " on " + simulation.devices().size() + " devices ("
          + (simulation.processes() ? "one JVM each" : "in this JVM") + ") ...");
      reports.put(mode, runJob(run, budgets));
    }
    return new SettingResult(setting, reports);
  }

  private JobReport runJob(JobConfig job, List<Long> budgets) throws Exception {
    Consumer<JobEvent> progress = new ProgressPrinter(log);
    if (simulation.processes()) {
      ProcessCluster cluster = ProcessCluster.start(config, simulation.devices(), budgets, JOIN_TIMEOUT, links);
      try {
        return await(cluster.coordinator(), job, progress);
      } finally {
        cluster.close();
        recordLinkBytes(job.spec().jobId(), cluster.linkBytesSent());
      }
    }
    List<LocalCluster.Member> members = new ArrayList<>();
    for (int i = 0; i < simulation.devices().size(); i++) {
      DeviceProfile d = simulation.devices().get(i);
      Config emulation = ConfigFactory.empty()
          .withValue("dsparse.device.compute-slowdown", ConfigValueFactory.fromAnyRef(d.computeSlowdown()));
      members.add(new LocalCluster.Member(d.name(), Long.toString(budgets.get(i)), emulation));
    }
    try (LocalCluster cluster = LocalCluster.start(config, members, JOIN_TIMEOUT)) {
      return await(cluster.node(0), job, progress);
    }
  }

  private void recordLinkBytes(String jobId, Map<String, Long> sent) {
    if (sent.isEmpty()) {
      return;
    }
    linkBytesSentByJob.put(jobId, Map.copyOf(sent));
    StringBuilder line = new StringBuilder(jobId + ": link bytes sent per device:");
    sent.forEach((device, bytes) -> line.append(' ').append(device).append(' ')
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

  /** A cluster device's predicted full-update peak for the job's model, data shape, batch and optimizer. */
  private static long fullUpdatePredictedBytes(JobSpec job, Config config) throws Exception {
    DataSource source = DataSource.parse(job.data(), "dsparse.job.data");
    ImageSet sample = source.load(Split.TEST);
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create(job.model(),
          new Shape(sample.channels(), sample.height(), sample.width()), sample.classes(), job.seed())) {
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
