package org.dsparse.actors.mode.dataparallel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceSetUp;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Preparation;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * A data-parallel device's side of a job: the job's model, a trainer of the slices the plan gives
 * it, and its {@link Backward}; its step is a {@link DataParallelStep}.
 */
public final class DataParallelRuntime extends ModeRuntime {
  private final Backward backward;

  private DataParallelRuntime(JobSpec spec, LayeredModel model, SparseTrainer trainer, Backward backward,
      ImageSetDataset train, ImageSetDataset test, long baselineRss, Position start) {
    super(spec, model, trainer, train, test, baselineRss, start);
    this.backward = backward;
  }

  /**
   * Sets up the device from where the job stands ({@link DeviceSetUp#model}) with a trainer of its
   * planned slices: after a re-plan with the optimizer state of the slices the restore keeps (other
   * slices' state starts at zero); when resumed, with the state its file holds for each slice.
   *
   * @param shards the ranks whose shards this device reads (see {@link DeviceSetUp#load})
   * @param learningRateScales learning-rate multipliers of some updated layers
   * @param warmUp whether a device that measures memory warms up on its own update first (a tile
   *     group's member does not: its warm-up would train the tiled layers whole, more memory than it has)
   * @param backward how its forward and backward run
   */
  public static DataParallelRuntime prepare(Preparation p, int[] shards, Map<Integer, Double> learningRateScales,
      boolean warmUp, Backward.Factory backward) throws IOException {
    DjlThread.checkCurrent();
    JobSpec spec = p.spec();
    DeviceSetUp.Data data = DeviceSetUp.load(p, shards);
    ImageSetDataset train = data.train(spec, data.shard());
    List<ChannelSlice> slices = Plans.channelSlices(p.assignment().updatedSlices());
    if (warmUp && p.measureMemory() && p.restored() == null) {
      warmUp(spec, train, slices);
    }
    long baseline = DeviceSetUp.baseline(p.measureMemory());
    DeviceSetUp.Start start = DeviceSetUp.model(p, train, data.classes());
    LayeredModel model = start.model();
    try {
      SparseTrainer trainer = new SparseTrainer(model, slices, DeviceSetUp.optimizer(spec),
          spec.frozenPrefixMicroBatch(), spec.updateMicroBatch() == JobSpec.AUTO_MICRO_BATCH
              ? p.assignment().updateMicroBatch() : spec.updateMicroBatch(), learningRateScales);
      Backward own = backward.create(trainer, model, train);
      if (start.restored() != null) {
        List<ChannelSlice> keep = Plans.channelSlices(p.restore().keptOptimizerState());
        List<ChannelSlice> imported = new java.util.ArrayList<>();
        for (Checkpoint.SliceState kept : start.restored().optimizer()) {
          if (slices.contains(kept.slice()) && keep.contains(kept.slice())) {
            trainer.importOptimizerState(List.of(kept.slice()), kept.state(), start.restored().optimizerUpdates());
            imported.add(kept.slice());
          }
        }
        // The other updaters of a kept slice continue from their state: one that started from zero
        // would step differently on the same averaged gradients from then on.
        for (ChannelSlice slice : slices) {
          if (keep.contains(slice) && !imported.contains(slice)) {
            throw new IOException("the optimizer state of slice " + slice + ", which its other updaters keep, is not "
                + "in the state of step " + p.restore().step() + " this device took");
          }
        }
      } else if (start.resumed() != null) {
        importOptimizerState(trainer, slices, start.resumed(), DeviceSetUp.resumeFile(p));
      }
      return new DataParallelRuntime(spec, model, trainer, own, train, data.test(), baseline, start.start());
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Gives the trainer the optimizer state the checkpoint holds for each of its slices; the plan must
   * be the one that wrote it (the same devices, budgets and settings plan the same slices).
   */
  private static void importOptimizerState(SparseTrainer trainer, List<ChannelSlice> slices,
      Checkpoint.TrainingState resumed, Path file) throws IOException {
    for (ChannelSlice slice : slices) {
      Checkpoint.SliceState saved = resumed.optimizerState().stream().filter(s -> s.slice().equals(slice))
          .findFirst().orElseThrow(() -> new IOException("checkpoint " + file + " holds no optimizer state for "
              + slice + ": the plan differs from the one that wrote it (other devices, budgets or settings)"));
      try {
        trainer.importOptimizerState(List.of(slice), saved.state(), resumed.optimizerUpdates());
      } catch (IllegalArgumentException e) {
        throw new IOException("checkpoint " + file + ": " + e.getMessage());
      }
    }
  }

  /**
   * A few steps of this device's own update on a throw-away model, with the job's batch and
   * frozen-prefix micro-batch, exporting and importing the updated weights as aggregation does;
   * then everything is freed ({@link DeviceSetUp#warmUp}).
   */
  private static void warmUp(JobSpec spec, ImageSetDataset train, List<ChannelSlice> slices) {
    if (slices.isEmpty()) {
      return;
    }
    try (LayeredModel model = Models.create(spec.model(), train.imageShape(), train.imageSet().classes(),
        spec.seed())) {
      SparseTrainer trainer = new SparseTrainer(model, slices, OptimizerSpec.sgd(spec.learningRate()),
          spec.frozenPrefixMicroBatch());
      DeviceSetUp.warmUp(model, trainer, spec, train, slices);
    }
  }

  @Override
  public DeviceGroups groups(String device, String jobId, List<GroupPlan> groups, List<String> devices) {
    return super.groups(device, jobId, groups, devices).with(backward.collectives(device, jobId, groups));
  }

  @Override
  public DeviceStep pipeline(DeviceGroups groups, Collectives collectives, Compute compute) {
    return new DataParallelStep(spec, model, trainer, backward, train, groups, collectives, compute, start.epoch(),
        start.batch());
  }
}
