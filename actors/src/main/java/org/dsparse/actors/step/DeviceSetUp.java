package org.dsparse.actors.step;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.actors.plan.ClassPartitions;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Partitioner;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * What every mode's device does to start its part of a job, in this order: {@link #load} its data
 * shard, warm up (the mode's own update, see {@link #warmUp}), take the memory {@link #baseline},
 * then build the job's {@link #model} from where the job stands. On the DJL thread.
 *
 * <p>The data shard is this device's rank's share of the job's devices as they are now, so a
 * re-planned job re-partitions the data among its new members; a mid-epoch restore starts at the
 * epoch's batch it stopped at, in the epoch's seeded order of the new shard.
 */
public final class DeviceSetUp {
  private DeviceSetUp() {}

  /**
   * A device's data.
   *
   * @param shard the images of the shards it reads, joined in the order given
   * @param classes the dataset's classes
   * @param seed the seed of the shards' batch order: the first shard's
   * @param test the test set as batches
   */
  public record Data(DataSource source, ImageSet shard, int classes, long seed, ImageSetDataset test) {
    /** {@code images} as batches at the job's size, in the shard's seeded order. */
    public ImageSetDataset train(JobSpec spec, ImageSet images) {
      return dataset(source, images, spec, seed);
    }
  }

  /**
   * Loads the job's data and takes the shards of ranks {@code shards} (its own; several when devices
   * read one batch a step from their shards joined, the first's seed ordering the batches).
   */
  public static Data load(Preparation p, int[] shards) throws IOException {
    DjlThread.checkCurrent();
    JobSpec spec = p.spec();
    ImageSet trainSet = p.source().load(Split.TRAIN);
    ImageSet testSet = testImages(p.source().load(Split.TEST), spec.testImages());
    ImageSet jobSet = trainSet.subset(Partitioner.holdOut(trainSet.size(), spec.heldOutFraction(), spec.seed())[1]);
    int[][] partition = partition(spec, jobSet, p.devices().size());
    int[] shard = IntStream.of(shards).flatMap(r -> IntStream.of(partition[r])).toArray();
    return new Data(p.source(), jobSet.subset(shard), trainSet.classes(), spec.seed() + shards[0],
        dataset(p.source(), testSet, spec, spec.seed()));
  }

  /** The images a job evaluates on: the test split's first {@code limit}, all of them when 0 or more. */
  static ImageSet testImages(ImageSet test, int limit) {
    return limit > 0 && limit < test.size() ? test.subset(IntStream.range(0, limit).toArray()) : test;
  }

  static int[][] partition(JobSpec spec, ImageSet trainSet, int devices) {
    String p = spec.partition().trim();
    if (p.equals("iid")) {
      return Partitioner.iid(trainSet.size(), devices, spec.seed());
    }
    if (p.startsWith("dirichlet:")) {
      double alpha;
      try {
        alpha = Double.parseDouble(p.substring("dirichlet:".length()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("job " + spec.jobId() + ": partition '" + p
            + "' needs a number after dirichlet:");
      }
      return Partitioner.dirichlet(trainSet.labels(), trainSet.classes(), devices, alpha, spec.seed());
    }
    if (ClassPartitions.byClasses(spec)) {
      return ClassPartitions.of(spec, trainSet.classes(), devices).samples(trainSet.labels(), spec.seed());
    }
    throw new IllegalArgumentException("job " + spec.jobId() + ": partition '" + p
        + "' is neither iid, dirichlet:ALPHA nor classes:...");
  }

  static ImageSetDataset dataset(DataSource source, ImageSet images, JobSpec spec, long seed) {
    return ImageSetDataset.builder().setImageSet(images).optNormalization(source.normalization())
        .optUpsample(spec.upsample()).setSeededSampling(spec.batch(), seed).build();
  }

  /**
   * The process's resident size once the data is loaded and the warm-up freed; when the device
   * measures memory, the peak is reset here, so that it measures training alone.
   */
  public static long baseline(boolean measureMemory) {
    System.gc();
    long baseline = ProcessMemory.residentBytes();
    if (measureMemory) {
      ProcessMemory.resetPeak();
    }
    return baseline;
  }

  /**
   * The job's model as the job stands.
   *
   * @param resumed where training was, when the model came from this device's file in the job's
   *     resume directory; else null
   * @param start where this device continues
   * @param restored the state a re-planned job continues from, laid out whole; else null
   */
  public record Start(LayeredModel model, Checkpoint.TrainingState resumed, ModeRuntime.Position start,
      CommittedState restored) {}

  /**
   * Builds the job's model from {@code p}'s restored state when the job was re-planned (the model
   * as it stood at the restore point); else from this device's file in the job's resume directory
   * when it names one (weights, and where training was); else from the initial checkpoint when the
   * job names one. The model is closed if this fails.
   */
  public static Start model(Preparation p, ImageSetDataset train, int classes) throws IOException {
    JobSpec spec = p.spec();
    LayeredModel model = Models.create(spec.model(), train.imageShape(), classes, spec.seed());
    try {
      CommittedState restored = p.restored();
      if (restored != null) {
        int[] all = IntStream.range(0, model.layerCount()).toArray();
        if (restored.inGroups()) {
          // No shard holds a layer a uniform tail froze on every device: it is as the job started.
          boolean frozenByPlan = spec.mode() == JobSpec.Mode.DSPARSE
              && !PlanStrategy.parse(spec.planner().strategy()).coversEveryLayer();
          if (frozenByPlan && !spec.initialCheckpoint().isEmpty()) {
            Checkpoint.loadAtAnyResolution(model, Path.of(spec.initialCheckpoint()));
          }
          GroupLayout.importGroups(model, restored, frozenByPlan);
          restored = GroupLayout.laidOut(model, restored);
        } else if (restored.weights().length != model.weightLength(all)) {
          throw new IOException("the restored model of step " + restored.step() + " holds " + restored.weights().length
              + " floats, the job's model " + model.weightLength(all));
        } else {
          model.importWeights(all, restored.weights());
        }
        return new Start(model, null, new ModeRuntime.Position(p.restore().epoch(), p.restore().stepInEpoch(),
            p.restore().step()), restored);
      }
      if (!spec.resumeFrom().isEmpty()) {
        Path file = resumeFile(p);
        Checkpoint.TrainingState resumed = Checkpoint.load(model, file).orElseThrow(() -> new IOException(
            "checkpoint " + file + " holds weights only, not where training was: it cannot be resumed from"));
        if (resumed.stepInEpoch() != 0) {
          throw new IOException("checkpoint " + file + " was written after step " + resumed.stepInEpoch() + " of epoch "
              + (resumed.epoch() + 1) + ": only epoch-end checkpoints can be resumed from");
        }
        if (!resumed.optimizer().equals(spec.optimizer())) {
          throw new IOException("checkpoint " + file + " was trained with optimizer " + resumed.optimizer()
              + ", the job asks for " + spec.optimizer());
        }
        return new Start(model, resumed, new ModeRuntime.Position(resumed.epoch(), 0, resumed.step()), null);
      }
      if (!spec.initialCheckpoint().isEmpty()) {
        // Weights trained at another image size fit (the job may upsample).
        Checkpoint.loadAtAnyResolution(model, Path.of(spec.initialCheckpoint()));
      }
      return new Start(model, null, ModeRuntime.Position.FRESH, null);
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** This device's file in the job's resume directory. */
  public static Path resumeFile(Preparation p) {
    return Path.of(p.spec().resumeFrom(), p.device() + ".ckpt");
  }

  /** The job's optimizer. */
  public static OptimizerSpec optimizer(JobSpec spec) {
    OptimizerKind kind = OptimizerKind.parse(spec.optimizer());
    return new OptimizerSpec(kind, spec.learningRate(), kind == OptimizerKind.SGD_MOMENTUM ? spec.momentum() : 0, 0);
  }

  /** Steps of the warm-up: the first allocates PyTorch's kernels and caches for the step's shapes. */
  private static final int WARM_UP_STEPS = 4;

  /**
   * A few training steps of {@code trainer} on a throw-away {@code model}, with the job's batch;
   * {@code slices}' weights (when not null) also go out and back, as a refresh moves them. This loads
   * PyTorch's libraries, thread pools and kernels for the step's shapes and runs the step's Java
   * side, so that this fixed cost of the runtime does not count as the job's training memory.
   */
  public static void warmUp(LayeredModel model, SparseTrainer trainer, JobSpec spec, ImageSetDataset train,
      List<ChannelSlice> slices) {
    int[] samples = IntStream.range(0, Math.min(spec.batch(), train.imageSet().size())).toArray();
    for (int step = 0; step < WARM_UP_STEPS; step++) {
      try (NDManager scratch = model.manager().newSubManager();
          ImageBatch batch = train.batchOf(scratch, samples)) {
        trainer.forwardBackward(batch.images(), batch.labels());
        trainer.step();
        if (slices != null) {
          model.importWeights(slices, model.exportWeights(slices));
        }
      }
    }
  }
}
