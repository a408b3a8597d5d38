package org.dsparse.actors.device;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.job.ClassPartitions;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.StepPipeline;
import org.dsparse.actors.step.SubModelPipeline;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Partitioner;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.SubModelRole;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.submodel.SubModels;
import org.dsparse.training.tiling.TiledTrainer;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * The DJL side of one device in one job: its model replica, its data shard and its trainer, set up
 * for the job's {@link StepPipeline}, evaluated and saved. Every method runs on the
 * {@link DjlThread}; the Device actor calls it through futures.
 */
final class DeviceRuntime implements AutoCloseable {
  private final JobSpec spec;
  private final LayeredModel model;
  private final SparseTrainer trainer;
  /** Its tiles and its place in the job's tile group, or null outside one. */
  private final TiledTrainer tiled;
  private final TileRole tile;
  /** In mode submodels, the sub-model {@link #trainer} trains; {@link #model} is then the global model. */
  private final SubModel subModel;
  private final ImageSetDataset train;
  private final ImageSetDataset test;
  private final long baselineRss;
  /**
   * Where this device's state stands: the epoch it continues in, the batch of that epoch it starts at
   * and the steps done (0, 0, 0 fresh).
   */
  private final int startEpoch;
  private final int startBatch;
  private final long startStep;

  /**
   * A device's sub-model in mode submodels.
   *
   * @param calibrator the global model's classifier's trainer, which also evaluates it
   * @param own the device's images labelled by their class in the global model
   */
  private record SubModel(SubModelSpec spec, LayeredModel model, SparseTrainer calibrator, ImageSetDataset own) {}

  private DeviceRuntime(JobSpec spec, LayeredModel model, SparseTrainer trainer, TiledTrainer tiled, TileRole tile,
      SubModel subModel, ImageSetDataset train, ImageSetDataset test, long baselineRss, int startEpoch, int startBatch,
      long startStep) {
    this.spec = spec;
    this.model = model;
    this.trainer = trainer;
    this.tiled = tiled;
    this.tile = tile;
    this.subModel = subModel;
    this.train = train;
    this.test = test;
    this.baselineRss = baselineRss;
    this.startEpoch = startEpoch;
    this.startBatch = startBatch;
    this.startStep = startStep;
  }

  /**
   * Loads this device's shard of the data, then builds the model and a trainer for its update set:
   * from {@code restored} when the job was re-planned (the model as it stood at the restore point,
   * and the optimizer state of the slices the restore keeps; other slices' state starts at zero);
   * else from this device's file in the job's resume directory when it names
   * one (weights, optimizer state and where training was); else from the initial checkpoint when the
   * job names one.
   *
   * <p>The data shard is this device's rank's share of the job's devices as they are now, so a
   * re-planned job re-partitions the data among its new members; a mid-epoch restore starts at the
   * epoch's batch it stopped at, in the epoch's seeded order of the new shard. The members of a tile
   * group read one batch a step together, like any device: they draw it from their shards joined,
   * in the head's seeded order, so every member reads the same batch and no shard goes unread.
   *
   * @param shards the ranks whose shards this device reads: its own, or its tile group's members'
   *     (the head's first, whose seed orders the batches)
   * @param learningRateScales learning-rate multipliers of some updated layers (see
   *     {@code JobPlanning.learningRateScales})
   * @param device this device; when it measures memory, the process's peak resident size is reset
   *     after the data is loaded, so that the peak measures training alone
   */
  static DeviceRuntime prepare(JobSpec spec, int[] shards, int devices, Assignment assignment,
      Map<Integer, Double> learningRateScales, DeviceSettings device, DeviceCommand.Restore restore,
      CommittedState restored) throws IOException {
    DjlThread.checkCurrent();
    boolean measureMemory = device.measureMemory();
    DataSource source = device.dataSource(spec.data(), "job " + spec.jobId() + " data");
    ImageSet trainSet = source.load(Split.TRAIN);
    ImageSet testSet = source.load(Split.TEST);
    ImageSet jobSet = trainSet.subset(Partitioner.holdOut(trainSet.size(), spec.heldOutFraction(), spec.seed())[1]);
    int[][] partition = partition(spec, jobSet, devices);
    int[] shard = IntStream.of(shards).flatMap(r -> IntStream.of(partition[r])).toArray();
    SubModelRole role = assignment.subModel();
    ImageSet shardSet = jobSet.subset(shard);
    // A sub-model outputs its classes only: its images are labelled by their place among them.
    ImageSetDataset train = dataset(source, role == null ? shardSet : shardSet.ofClasses(role.classArray()), spec,
        spec.seed() + shards[0]);
    ImageSetDataset test = dataset(source, testSet, spec, spec.seed());
    TileRole tile = assignment.tile();
    // A tile's warm-up would train the tiled layers whole: more memory than the member has.
    if (measureMemory && restored == null && tile == null) {
      warmUp(spec, train, assignment);
    }
    System.gc();
    long baseline = ProcessMemory.residentBytes();
    if (measureMemory) {
      ProcessMemory.resetPeak();
    }
    LayeredModel model = Models.create(spec.model(), train.imageShape(), trainSet.classes(), spec.seed());
    try {
      Checkpoint.TrainingState resumed = null;
      if (restored != null) {
        int[] all = IntStream.range(0, model.layerCount()).toArray();
        if (restored.weights().length != model.weightLength(all)) {
          throw new IOException("the restored model of step " + restored.step() + " holds " + restored.weights().length
              + " floats, the job's model " + model.weightLength(all));
        }
        model.importWeights(all, restored.weights());
      } else if (!spec.resumeFrom().isEmpty()) {
        Path file = resumeFile(spec, device.name());
        resumed = Checkpoint.load(model, file).orElseThrow(() -> new IOException("checkpoint " + file
            + " holds weights only, not where training was: it cannot be resumed from"));
        if (resumed.stepInEpoch() != 0) {
          throw new IOException("checkpoint " + file + " was written after step " + resumed.stepInEpoch() + " of epoch "
              + (resumed.epoch() + 1) + ": only epoch-end checkpoints can be resumed from");
        }
        if (!resumed.optimizer().equals(spec.optimizer())) {
          throw new IOException("checkpoint " + file + " was trained with optimizer " + resumed.optimizer()
              + ", the job asks for " + spec.optimizer());
        }
      } else if (!spec.initialCheckpoint().isEmpty()) {
        // Weights trained at another image size fit (the job may upsample).
        Checkpoint.loadAtAnyResolution(model, Path.of(spec.initialCheckpoint()));
      }
      OptimizerKind kind = OptimizerKind.parse(spec.optimizer());
      OptimizerSpec optimizer =
          new OptimizerSpec(kind, spec.learningRate(), kind == OptimizerKind.SGD_MOMENTUM ? spec.momentum() : 0, 0);
      if (role != null) {
        SubModelSpec subSpec = new SubModelSpec(role.filterArrays(), role.classArray());
        LayeredModel sub = SubModels.extract(model, subSpec, spec.seed());
        SubModel part = new SubModel(subSpec, sub, new SparseTrainer(model,
            model.wholeLayers(new int[] {model.layerCount() - 1}), optimizer, spec.frozenPrefixMicroBatch()),
            dataset(source, shardSet, spec, spec.seed() + shards[0]));
        SparseTrainer trainer = new SparseTrainer(sub, UpdateSet.all(sub.layerCount()), optimizer);
        // Its optimizer state starts again after a re-plan (the partition, and so its sub-model, may
        // have changed) and on resuming (a checkpoint holds the assembled global model alone; the
        // plan, made from the initial checkpoint, is the same, and so is the sub-model).
        if (restored != null) {
          return new DeviceRuntime(spec, model, trainer, null, null, part, train, test, baseline, restore.epoch(),
              restore.stepInEpoch(), restore.step());
        }
        return resumed != null
            ? new DeviceRuntime(spec, model, trainer, null, null, part, train, test, baseline, resumed.epoch(), 0,
                resumed.step())
            : new DeviceRuntime(spec, model, trainer, null, null, part, train, test, baseline, 0, 0, 0);
      }
      List<ChannelSlice> slices = JobPlanning.channelSlices(assignment.updatedSlices());
      SparseTrainer trainer = new SparseTrainer(model, slices, optimizer, spec.frozenPrefixMicroBatch(),
          learningRateScales);
      TiledTrainer tiled = tile == null ? null : new TiledTrainer(trainer, grouping(tile),
          new TilingCostModel.Grid(tile.rows(), tile.columns()), train.imageShape(), tile.rank(device.name()));
      if (restored != null) {
        List<ChannelSlice> keep = JobPlanning.channelSlices(restore.keptOptimizerState());
        for (Checkpoint.SliceState kept : restored.optimizer()) {
          if (slices.contains(kept.slice()) && keep.contains(kept.slice())) {
            trainer.importOptimizerState(List.of(kept.slice()), kept.state(), restored.optimizerUpdates());
          }
        }
        return new DeviceRuntime(spec, model, trainer, tiled, tile, null, train, test, baseline, restore.epoch(),
            restore.stepInEpoch(), restore.step());
      }
      if (resumed != null) {
        importOptimizerState(trainer, slices, resumed, resumeFile(spec, device.name()));
        return new DeviceRuntime(spec, model, trainer, tiled, tile, null, train, test, baseline, resumed.epoch(), 0,
            resumed.step());
      }
      return new DeviceRuntime(spec, model, trainer, tiled, tile, null, train, test, baseline, 0, 0, 0);
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** The tile group's fused groups of layers. */
  private static List<TilingCostModel.Group> grouping(TileRole tile) {
    List<TilingCostModel.Group> groups = new java.util.ArrayList<>();
    int from = 0;
    for (int end : tile.groupEnds()) {
      groups.add(new TilingCostModel.Group(from, end));
      from = end;
    }
    return groups;
  }

  static Path resumeFile(JobSpec spec, String device) {
    return Path.of(spec.resumeFrom(), device + ".ckpt");
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

  /** Steps of the warm-up: the first allocates PyTorch's kernels and caches for the step's shapes. */
  private static final int WARM_UP_STEPS = 4;

  /**
   * A few steps of this device's own update on a throw-away model, with the job's batch and
   * frozen-prefix micro-batch, exporting and importing the updated weights as aggregation does;
   * then everything is freed. This loads PyTorch's libraries, thread pools and kernels for the
   * step's shapes and runs the step's Java side, so that this fixed cost of the runtime does not
   * count as the job's training memory.
   */
  private static void warmUp(JobSpec spec, ImageSetDataset train, Assignment assignment) {
    SubModelRole role = assignment.subModel();
    if (role != null) {
      // The sub-model's own network, not the whole model's: what the device trains.
      int[] widths = role.filters().stream().mapToInt(List::size).toArray();
      try (LayeredModel narrow = Models.narrow(spec.model(), train.imageShape(), widths, role.classes().size(),
          spec.seed())) {
        warmUp(narrow, new SparseTrainer(narrow, UpdateSet.all(narrow.layerCount()),
            OptimizerSpec.sgd(spec.learningRate())), spec, train, null);
      }
      return;
    }
    try (LayeredModel model = Models.create(spec.model(), train.imageShape(), train.imageSet().classes(),
        spec.seed())) {
      List<ChannelSlice> slices = JobPlanning.channelSlices(assignment.updatedSlices());
      if (slices.isEmpty()) {
        return;
      }
      SparseTrainer trainer = new SparseTrainer(model, slices, OptimizerSpec.sgd(spec.learningRate()),
          spec.frozenPrefixMicroBatch());
      warmUp(model, trainer, spec, train, slices);
    }
  }

  /** A few training steps of {@code trainer}; {@code slices}' weights also go out and back, as a refresh moves them. */
  private static void warmUp(LayeredModel model, SparseTrainer trainer, JobSpec spec, ImageSetDataset train,
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

  private static ImageSetDataset dataset(DataSource source, ImageSet images, JobSpec spec, long seed) {
    int batch = spec.batch();
    return ImageSetDataset.builder().setImageSet(images).optNormalization(source.normalization())
        .optUpsample(spec.upsample())
        .setSeededSampling(batch, seed).build();
  }

  long baselineRss() {
    return baselineRss;
  }

  int startEpoch() {
    return startEpoch;
  }

  long startStep() {
    return startStep;
  }

  /** Whole batches per epoch in this device's shard. */
  int stepsPerEpoch() {
    return train.imageSet().size() / spec.batch();
  }


  /**
   * The job's training step on this device, over {@code collectives}, its model work on
   * {@code compute}.
   */
  DeviceStep pipeline(DeviceGroups groups, Collectives collectives, Compute compute) {
    if (subModel != null) {
      return new SubModelPipeline(spec, model, subModel.model(), subModel.spec(), trainer, subModel.calibrator(), train,
          subModel.own(), groups, collectives, compute, startEpoch, startBatch);
    }
    return new StepPipeline(spec, model, trainer, tiled, tile, train, groups, collectives, compute, startEpoch,
        startBatch);
  }

  /** Correct predictions, samples and summed loss on shard {@code shard} of {@code shards} of the test set. */
  long[] evaluate(int shard, int shards) {
    DjlThread.checkCurrent();
    int size = test.imageSet().size();
    int from = (int) ((long) size * shard / shards);
    int to = (int) ((long) size * (shard + 1) / shards);
    long correct = 0;
    for (int start = from; start < to; start += spec.batch()) {
      int[] indices = java.util.stream.IntStream.range(start, Math.min(to, start + spec.batch())).toArray();
      try (NDManager scratch = model.manager().newSubManager();
          ImageBatch batch = test.batchOf(scratch, indices)) {
        correct += (subModel != null ? subModel.calibrator() : trainer).correct(batch.images(), batch.labels());
      }
    }
    return new long[] {correct, to - from};
  }

  /**
   * Saves the model with where training stands (the next step, {@code step}, starts epoch
   * {@code nextEpoch}) and the optimizer state of every slice this device updates.
   */
  void saveCheckpoint(Path path, int nextEpoch, long step, String plan) throws IOException {
    DjlThread.checkCurrent();
    Checkpoint.save(model, path, new Checkpoint.TrainingState(spec.jobId(), nextEpoch, 0, step, spec.optimizer(),
        trainer.optimizerUpdates(), optimizerState(), plan));
  }

  /**
   * The model and this device's optimizer state as they stand, after {@code step} steps of the job,
   * {@code stepInEpoch} of them in epoch {@code epoch}.
   */
  CommittedState capture(long step, int epoch, int stepInEpoch) {
    DjlThread.checkCurrent();
    float[] weights = model.exportWeights(IntStream.range(0, model.layerCount()).toArray());
    return new CommittedState(spec.jobId(), step, epoch, stepInEpoch, weights, optimizerState(),
        trainer.optimizerUpdates());
  }

  /** Where this runtime's model stands before its first step, with the slices it holds optimizer state of. */
  DeviceEvent.HeldState start() {
    return new DeviceEvent.HeldState(startStep, startEpoch, startBatch, updatedSlices());
  }

  /** The slices this device updates, as the plan names them. */
  List<GroupPlan.Slice> updatedSlices() {
    return trainer.slices().stream().map(s -> new GroupPlan.Slice(s.layer(), s.from(), s.to())).toList();
  }

  /** The optimizer state of every slice this device updates (none of the global model's in mode submodels). */
  private List<Checkpoint.SliceState> optimizerState() {
    List<Checkpoint.SliceState> state = new java.util.ArrayList<>();
    if (subModel != null) {
      return List.of();
    }
    for (ChannelSlice slice : trainer.slices()) {
      state.add(new Checkpoint.SliceState(slice, trainer.exportOptimizerState(List.of(slice))));
    }
    return List.copyOf(state);
  }

  @Override
  public void close() {
    DjlThread.checkCurrent();
    if (subModel != null) {
      subModel.model().close();
    }
    model.close();
  }
}
