package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.dsparse.actors.mode.TrainingModes;
import org.dsparse.actors.plan.ClassPartitions;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Planning;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.MemoryModels;
import org.dsparse.training.trainer.DjlThread;

/**
 * Turns a job and its devices into a {@link PlannedJob}: loads what every mode plans from (a sample
 * of the data, the model at its starting weights, the devices' memory model), lets the job's
 * {@link TrainingMode} plan, and adds what every plan shows (AllReduce bytes, compression, overlap,
 * classes per device). Runs on the DJL thread.
 */
public final class JobPlanning {
  private JobPlanning() {}

  public static PlannedJob plan(JobSpec spec, List<DeviceInfo> devices, Config config) throws IOException {
    DjlThread.checkCurrent();
    DataSource source = DataSource.parse(spec.data(), "job " + spec.jobId() + " data");
    ImageSet sample = source.load(Split.TEST);
    TrainingMode mode = TrainingModes.of(spec);
    ImageSetDataset data = ImageSetDataset.builder().setImageSet(sample).optNormalization(source.normalization())
        .optUpsample(spec.upsample()).setSeededSampling(spec.batch(), spec.seed()).build();
    PlannedJob planned;
    try (LayeredModel model = Models.create(spec.model(), data.imageShape(), sample.classes(), spec.seed())) {
      if (!spec.initialCheckpoint().isEmpty()) {
        // Weights trained at another image size fit (the job may upsample).
        Checkpoint.loadAtAnyResolution(model, Path.of(spec.initialCheckpoint()));
      }
      MemoryModel memory = new MemoryModel(model.layerCosts(), MemoryModels.clusterDeviceCoefficients(config))
          .withFrozenPrefixMicroBatch(spec.frozenPrefixMicroBatch()).withUpdateMicroBatch(Plans.plannedUpdateMicroBatch(spec))
          .withCompression(Plans.compression(spec));
      planned = Plans.withOverlap(spec, mode.plan(new Planning(spec, devices, source, sample, data, model, memory,
          OptimizerKind.parse(spec.optimizer()))), model, mode.overlaps(spec));
    }
    if (!ClassPartitions.byClasses(spec)) {
      return planned;
    }
    // Refused here, before any device loads data, when a class is held by no device.
    List<String> names = devices.stream().map(DeviceInfo::name).toList();
    return planned.withGroups(planned.groups(), "classes per device (partition " + spec.partition() + "):\n"
        + ClassPartitions.of(spec, sample.classes(), devices.size()).describe(names));
  }

  /** Where the job's devices cut the backward of each step (never, unless its mode overlaps). */
  public static org.dsparse.core.collective.OverlapScheduler overlapScheduler(JobSpec spec, PlannedJob plan) {
    return Plans.overlapScheduler(spec, plan, TrainingModes.of(spec).overlaps(spec));
  }
}
