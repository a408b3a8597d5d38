package org.dsparse.simulator.bench;

import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.job.JobReport;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabJson;
import org.dsparse.simulator.LabMeasure;
import org.dsparse.simulator.Simulation;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.submodel.SubModels;
import org.dsparse.training.trainer.DjlDefaults;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.Pretraining;

/**
 * Sub-models against the full model, the same data and epochs: (a) the full model trained centrally
 * on one device on all the job's data (iid); (b) the full update across the devices on the class
 * partition (data-parallel, every step); (c) sub-models on the same partition. All three start from
 * the same pre-trained checkpoint (the held-out share, one device), each device its own JVM; with
 * {@code --pretrain-epochs 1,20} the three runs are repeated from each of several checkpoints. Writes
 * {@code results/submodels.json}: each run's test accuracy and bytes, and per device its classes,
 * its computation per step against the full model's (multiply-adds of the forward and the backward,
 * derived from the networks' shapes; the measured compute time beside them) and its measured memory.
 */
public final class SubModelsBench {
  /** A step's multiply-adds against its forward's: the backward costs about two forwards. */
  private static final int FORWARD_AND_BACKWARD = 3;

  private SubModelsBench() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("submodels-bench", args, Set.of("config", "out", "pretrain-epochs"), Set.of());
      Path out = Path.of(flags.get("out", "results"));
      Path file = Path.of(flags.get("config").orElseThrow(() -> new UsageException("submodels-bench: --config FILE missing")));
      Config config = ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.load()).resolve();
      run(config, out, flags.get("pretrain-epochs").map(SubModelsBench::epochList).orElse(null));
      System.exit(0);
    } catch (UsageException | ConfigException | IllegalArgumentException e) {
      System.err.println("submodels-bench: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("submodels-bench: " + e);
      System.exit(1);
    }
  }

  /** {@code --pretrain-epochs 1,20}: the starting points, each pre-trained for that many epochs. */
  private static int[] epochList(String value) {
    try {
      int[] epochs = Arrays.stream(value.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
      if (epochs.length > 0 && Arrays.stream(epochs).allMatch(e -> e > 0)) {
        return epochs;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new UsageException("submodels-bench: --pretrain-epochs takes positive whole numbers separated by commas,"
        + " got \"" + value + "\"");
  }

  /**
   * Every run from each starting point in turn; the JSON's top-level runs are the last starting
   * point's, and {@code startingPoints} holds them all.
   */
  private static void run(Config config, Path out, int[] pretrainEpochs) throws Exception {
    DjlDefaults.apply();
    Files.createDirectories(out);
    SimulationConfig simulation = SimulationConfig.read(config);
    if (simulation.job().spec().mode() != JobSpec.Mode.SUBMODELS) {
      throw new UsageException("submodels-bench: dsparse.job.mode must be submodels");
    }
    int[] starts = pretrainEpochs != null ? pretrainEpochs : new int[] {simulation.pretrainEpochs()};
    JsonArray startingPoints = new JsonArray();
    JsonObject root = new JsonObject();
    for (int epochs : starts) {
      JsonObject start = startFrom(config, simulation, out, epochs);
      startingPoints.add(start);
      for (String key : List.of("pretrainEpochs", "pretrainedAccuracy", "central", "fullAcrossDevices", "submodels")) {
        root.add(key, start.get(key));
      }
    }
    root.add("startingPoints", startingPoints);
    root.addProperty("measured", "test accuracy; memory (on the lab peakBytes, the kernel-charged anonymous memory"
        + " of each device's cgroup; measuredMemoryBytes, the training's native growth); compute time per step"
        + " and measuredComputeCut (full model's compute time over the sub-model's, same device); bytes on the wire");
    root.addProperty("derived", "derivedComputeCut and multiply-adds per step (forward and backward, 3x the forward's) from the networks'"
        + " shapes; flopsPerStep is a sub-model's training step plus the calibrations before evaluations (whole-model"
        + " forwards) spread over the steps");
    Path json = out.resolve("submodels.json");
    Files.writeString(json, new GsonBuilder().setPrettyPrinting().create().toJson(root));
    System.out.println("wrote " + json);
  }

  /** The three runs from one checkpoint, pre-trained for {@code pretrainEpochs} on the held-out share. */
  private static JsonObject startFrom(Config config, SimulationConfig simulation, Path out, int pretrainEpochs)
      throws Exception {
    Simulation runner = new Simulation(simulation, config, out, System.out::println);
    JobConfig job = simulation.job();
    JobSpec spec = job.spec();
    DataSource source = DataSource.parse(spec.data(), "dsparse.job.data");
    Path checkpoint = out.resolve(simulation.name() + "-pretrained-" + pretrainEpochs + ".ckpt");
    OptimizerKind kind = OptimizerKind.parse(spec.optimizer());
    Pretraining.Result pretrained = Pretraining.run(spec.model(), source, spec.heldOutFraction(), spec.seed(),
        spec.batch(), new OptimizerSpec(kind, (float) simulation.pretrainLearningRate(),
            kind == OptimizerKind.SGD_MOMENTUM ? spec.momentum() : 0, 0), pretrainEpochs, checkpoint);
    System.out.printf(Locale.ROOT, "pre-trained for %d epochs on %d images: test accuracy %.2f%%%n", pretrainEpochs,
        pretrained.samples(), 100 * pretrained.testAccuracy());
    spec = spec.withInitialCheckpoint(checkpoint.toString());
    String name = simulation.name() + "-pre" + pretrainEpochs;
    List<DeviceProfile> devices = simulation.devices();
    List<Long> budgets = runner.budgets();
    int n = devices.size();

    JobReport subModels = runner.runJob(job.with(spec.withMode(JobSpec.Mode.SUBMODELS, name + "-submodels"), n),
        budgets, devices);
    JobReport full = runner.runJob(job.with(spec.withMode(JobSpec.Mode.FULL, name + "-full"), n), budgets, devices);
    // One device, all the data: as many samples per epoch as the n devices together.
    JobSpec centralSpec = spec.withMode(JobSpec.Mode.FULL, name + "-central").withPartition("iid")
        .withMaxStepsPerEpoch(spec.maxStepsPerEpoch() * n);
    DeviceProfile big = new DeviceProfile("central", "1GiB", 1, 0);
    JobReport central = runner.runJob(job.with(centralSpec, 1), List.of(1L << 30), List.of(big));

    JsonObject start = new JsonObject();
    start.addProperty("pretrainEpochs", pretrainEpochs);
    start.addProperty("pretrainedAccuracy", 100 * pretrained.testAccuracy());
    start.add("central", summary(central));
    start.add("fullAcrossDevices", summary(full));
    JsonObject sub = summary(subModels);
    sub.add("devices", devices(spec, simulation, subModels, full, config,
        runner.labMeasures(subModels.spec().jobId()), runner.labMeasures(full.spec().jobId())));
    start.add("submodels", sub);
    System.out.printf(Locale.ROOT, "from %d epochs of pre-training: central %.2f%%, full update across devices %.2f%%,"
        + " sub-models %.2f%%%n", pretrainEpochs, central.testAccuracy() * 100, full.testAccuracy() * 100,
        subModels.testAccuracy() * 100);
    return start;
  }

  private static JsonObject summary(JobReport report) {
    JsonObject o = new JsonObject();
    o.addProperty("testAccuracy", 100 * report.testAccuracy());
    o.addProperty("steps", report.steps());
    double bytes = report.devices().stream().mapToDouble(d -> d.wire().stream()
        .filter(w -> !w.kind().equals(WireBytes.CONTROL)).mapToLong(WireBytes::total).sum()).sum();
    o.addProperty("bytesOnTheWire", bytes);
    o.addProperty("medianStepMillis", report.medianStepMillis());
    return o;
  }

  /** Per device: its classes and sub-model (the same plan the job made), what it computed and held. */
  private static JsonArray devices(JobSpec spec, SimulationConfig simulation, JobReport subModels,
      JobReport full, Config config, Map<String, LabMeasure> subModelsLab, Map<String, LabMeasure> fullLab)
      throws Exception {
    List<DeviceInfo> infos = new ArrayList<>();
    for (int i = 0; i < simulation.devices().size(); i++) {
      String name = simulation.devices().get(i).name();
      // The budget each device planned with: on the lab it chose its own (auto), which the
      // configuration does not hold.
      infos.add(new DeviceInfo(name, "pekko://dsparse@127.0.0.1:" + (2800 + i),
          deviceOf(subModels, name).budgetBytes(), null));
    }
    // In the job's order, by name: a class partition gives each device its classes in that order.
    infos.sort(java.util.Comparator.comparing(DeviceInfo::name));
    PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(spec, infos, config));
    ImageSet sample = DataSource.parse(spec.data(), "dsparse.job.data").load(Split.TEST);
    JsonArray devices = new JsonArray();
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create(spec.model(), new Shape(sample.channels(),
          sample.height() * spec.upsample(), sample.width() * spec.upsample()), sample.classes(), spec.seed())) {
        int[] fullWidths = new int[model.layerCount() - 1];
        for (int l = 0; l < fullWidths.length; l++) {
          fullWidths[l] = model.layer(l).outputChannels();
        }
        long fullForward = SubModels.multiplyAdds(model, fullWidths, model.classes());
        long fullPerStep = (long) FORWARD_AND_BACKWARD * spec.batch() * fullForward;
        // Before each evaluation every device runs the whole model forward on its statistics samples
        // and on a batch per calibration step (the classifier's backward is negligible): spread over the steps.
        long evaluations = spec.epochs() + (spec.evaluateEvery() > 0 ? subModels.steps() / spec.evaluateEvery() : 0);
        long calibrationPerStep = Math.round((double) evaluations * fullForward
            * (spec.subModels().statisticsSamples() + (long) spec.subModels().calibrationSteps() * spec.batch())
            / Math.max(1, subModels.steps()));
        for (int i = 0; i < infos.size(); i++) {
          String name = infos.get(i).name();
          Assignment a = plan.assignments().get(name);
          int[] widths = a.subModel().filters().stream().mapToInt(List::size).toArray();
          long trainingPerStep = (long) FORWARD_AND_BACKWARD * spec.batch()
              * SubModels.multiplyAdds(model, widths, a.subModel().classes().size());
          JsonObject d = new JsonObject();
          d.addProperty("name", name);
          JsonArray classes = new JsonArray();
          a.subModel().classes().forEach(classes::add);
          d.add("classes", classes);
          JsonArray kept = new JsonArray();
          for (int w : widths) {
            kept.add(w);
          }
          d.add("filtersKept", kept);
          d.addProperty("flopsPerStep", trainingPerStep + calibrationPerStep);
          d.addProperty("trainingFlopsPerStep", trainingPerStep);
          d.addProperty("calibrationFlopsPerStep", calibrationPerStep);
          d.addProperty("fullModelFlopsPerStep", fullPerStep);
          d.addProperty("predictedMemoryBytes", a.predictedPeakBytes());
          JobReport.DeviceReport measured = deviceOf(subModels, name);
          JobReport.DeviceReport fullMeasured = deviceOf(full, name);
          d.addProperty("measuredMemoryBytes", measured.measuredBytes());
          d.addProperty("fullUpdateMeasuredMemoryBytes", fullMeasured.measuredBytes());
          d.addProperty("computeMillisPerStep", measured.computeMillisPerStep());
          d.addProperty("fullUpdateComputeMillisPerStep", fullMeasured.computeMillisPerStep());
          // The computation cut in wall-clock time, measured: the same device (on the lab, the same CPU
          // share) computing the full model's step against its sub-model's.
          if (measured.computeMillisPerStep() > 0) {
            d.addProperty("measuredComputeCut", fullMeasured.computeMillisPerStep() / measured.computeMillisPerStep());
          }
          d.addProperty("derivedComputeCut", (double) fullPerStep / (trainingPerStep + calibrationPerStep));
          LabMeasure kernel = subModelsLab.get(name);
          LabMeasure fullKernel = fullLab.get(name);
          if (kernel != null && fullKernel != null) {
            simulation.devices().stream().filter(p -> p.name().equals(name)).findFirst()
                .flatMap(DeviceProfile::lab).ifPresent(p -> d.add("profile", LabJson.profile(p)));
            d.addProperty("peakBytes", kernel.peakAnonymousBytes());
            d.addProperty("fullUpdatePeakBytes", fullKernel.peakAnonymousBytes());
            d.addProperty("oomKilled", kernel.oomKilled());
          }
          devices.add(d);
        }
      }
    });
    return devices;
  }

  private static JobReport.DeviceReport deviceOf(JobReport report, String name) {
    return report.devices().stream().filter(d -> d.name().equals(name)).findFirst()
        .orElseThrow(() -> new IllegalStateException("job " + report.spec().jobId() + " has no device " + name));
  }
}
