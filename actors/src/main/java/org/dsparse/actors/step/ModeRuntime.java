package org.dsparse.actors.step;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * The DJL side of one device in one job, as its mode sets it up: the job's model replica, the
 * device's data shard and its trainer; it builds the device's step, and evaluates, captures and
 * saves the model. Every method runs on the {@link DjlThread}; the Device actor calls it through
 * futures. A mode subclasses it with what its step needs.
 */
public abstract class ModeRuntime implements AutoCloseable {
  protected final JobSpec spec;
  /** The job's model as every device evaluates and saves it. */
  protected final LayeredModel model;
  /** The trainer whose optimizer state the device keeps and saves. */
  protected final SparseTrainer trainer;
  protected final ImageSetDataset train;
  protected final ImageSetDataset test;
  private final long baselineRss;
  protected final Position start;

  /**
   * Where a device's state stands: the epoch it continues in, the batch of that epoch it starts at
   * and the steps done ({@link #FRESH}: 0, 0, 0).
   */
  public record Position(int epoch, int batch, long step) {
    public static final Position FRESH = new Position(0, 0, 0);
  }

  protected ModeRuntime(JobSpec spec, LayeredModel model, SparseTrainer trainer, ImageSetDataset train,
      ImageSetDataset test, long baselineRss, Position start) {
    this.spec = spec;
    this.model = model;
    this.trainer = trainer;
    this.train = train;
    this.test = test;
    this.baselineRss = baselineRss;
    this.start = start;
  }

  /** The job's training step on this device, over {@code collectives}, its model work on {@code compute}. */
  public abstract DeviceStep pipeline(DeviceGroups groups, Collectives collectives, Compute compute);

  /** This device's part of the job's process groups, with any collectives of the mode's own. */
  public DeviceGroups groups(String device, String jobId, List<GroupPlan> groups, List<String> devices) {
    return DeviceGroups.of(device, jobId, groups, devices);
  }

  /** The trainer that evaluates the job's model. */
  protected SparseTrainer evaluator() {
    return trainer;
  }

  /** The optimizer state of every slice of the job's model this device updates. */
  protected List<Checkpoint.SliceState> optimizerState() {
    List<Checkpoint.SliceState> state = new ArrayList<>();
    for (ChannelSlice slice : trainer.slices()) {
      state.add(new Checkpoint.SliceState(slice, trainer.exportOptimizerState(List.of(slice))));
    }
    return List.copyOf(state);
  }

  public long baselineRss() {
    return baselineRss;
  }

  public int startEpoch() {
    return start.epoch();
  }

  public long startStep() {
    return start.step();
  }

  /** Whole batches per epoch in this device's shard. */
  public int stepsPerEpoch() {
    return train.imageSet().size() / spec.batch();
  }

  /** Correct predictions, samples and summed loss on shard {@code shard} of {@code shards} of the test set. */
  public long[] evaluate(int shard, int shards) {
    DjlThread.checkCurrent();
    int size = test.imageSet().size();
    int from = (int) ((long) size * shard / shards);
    int to = (int) ((long) size * (shard + 1) / shards);
    long correct = 0;
    for (int at = from; at < to; at += spec.batch()) {
      int[] indices = IntStream.range(at, Math.min(to, at + spec.batch())).toArray();
      try (NDManager scratch = model.manager().newSubManager();
          ImageBatch batch = test.batchOf(scratch, indices)) {
        correct += evaluator().correct(batch.images(), batch.labels());
      }
    }
    return new long[] {correct, to - from};
  }

  /**
   * Saves the model with where training stands (the next step, {@code step}, starts epoch
   * {@code nextEpoch}) and the optimizer state of every slice this device updates.
   */
  public void saveCheckpoint(Path path, int nextEpoch, long step, String plan) throws IOException {
    DjlThread.checkCurrent();
    Checkpoint.save(model, path, new Checkpoint.TrainingState(spec.jobId(), nextEpoch, 0, step, spec.optimizer(),
        trainer.optimizerUpdates(), optimizerState(), plan));
  }

  /**
   * The model and this device's optimizer state as they stand, after {@code step} steps of the job,
   * {@code stepInEpoch} of them in epoch {@code epoch}.
   */
  public CommittedState capture(long step, int epoch, int stepInEpoch) {
    DjlThread.checkCurrent();
    float[] weights = model.exportWeights(IntStream.range(0, model.layerCount()).toArray());
    return new CommittedState(spec.jobId(), step, epoch, stepInEpoch, weights, optimizerState(),
        trainer.optimizerUpdates());
  }

  /** The weights and buffers of {@code group}'s slices as the model holds them: what its LayerShard keeps. */
  public float[] groupWeights(GroupPlan group) {
    DjlThread.checkCurrent();
    return model.exportWeights(group.slices().stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList());
  }

  /**
   * {@code state}, which came group by group from the LayerShards and from which this runtime's model
   * was built, laid out whole, as this device keeps it for the next restore.
   */
  public CommittedState laidOut(CommittedState state) throws IOException {
    DjlThread.checkCurrent();
    return GroupLayout.laidOut(model, state);
  }

  /** Where this runtime's model stands before its first step, with the slices it holds optimizer state of. */
  public DeviceEvent.HeldState start() {
    return new DeviceEvent.HeldState(start.step(), start.epoch(), start.batch(), updatedSlices());
  }

  /** The slices this device's trainer updates, as the plan names them. */
  public List<GroupPlan.Slice> updatedSlices() {
    return trainer.slices().stream().map(s -> new GroupPlan.Slice(s.layer(), s.from(), s.to())).toList();
  }

  @Override
  public void close() {
    DjlThread.checkCurrent();
    model.close();
  }
}
