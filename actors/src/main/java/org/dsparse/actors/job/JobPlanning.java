package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.dsparse.core.cli.Table;
import org.dsparse.core.collective.DynamicDecomposition;
import org.dsparse.core.collective.OverlapCuts;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.core.compression.Compression;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.plan.CommunicationModel;
import org.dsparse.core.plan.DeviceAssignment;
import org.dsparse.core.plan.DeviceBudget;
import org.dsparse.core.plan.Importance;
import org.dsparse.core.plan.LayerSlice;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.core.plan.Planner;
import org.dsparse.core.plan.PlannerSettings;
import org.dsparse.core.plan.ProcessGroupSpec;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.MemoryModels;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * Turns a job and its devices into a {@link PlannedJob}. Runs on the DJL thread: the layer costs
 * come from the real network's shapes, and gradient-norm importance from a few real backward passes.
 */
public final class JobPlanning {
  /** Batches whose gradients are averaged when importance is measured. */
  private static final int IMPORTANCE_BATCHES = 4;

  private JobPlanning() {}

  public static PlannedJob plan(JobSpec spec, List<DeviceInfo> devices, Config config) throws IOException {
    DjlThread.checkCurrent();
    DataSource source = DataSource.parse(spec.data(), "job " + spec.jobId() + " data");
    ImageSet sample = source.load(Split.TEST);
    PlannedJob planned = plan(spec, devices, config, source, sample);
    if (!ClassPartitions.byClasses(spec)) {
      return planned;
    }
    // Refused here, before any device loads data, when a class is held by no device.
    List<String> names = devices.stream().map(DeviceInfo::name).toList();
    return planned.withGroups(planned.groups(), "classes per device (partition " + spec.partition() + "):\n"
        + ClassPartitions.of(spec, sample.classes(), devices.size()).describe(names));
  }

  private static PlannedJob plan(JobSpec spec, List<DeviceInfo> devices, Config config, DataSource source,
      ImageSet sample) throws IOException {
    ImageSetDataset data = ImageSetDataset.builder().setImageSet(sample)
        .optNormalization(source.normalization()).optUpsample(spec.upsample()).setSeededSampling(spec.batch(), spec.seed()).build();
    try (LayeredModel model = Models.create(spec.model(), data.imageShape(), sample.classes(), spec.seed())) {
      if (!spec.initialCheckpoint().isEmpty()) {
        // Weights trained at another image size fit (the job may upsample).
        Checkpoint.loadAtAnyResolution(model, Path.of(spec.initialCheckpoint()));
      }
      List<LayerCost> costs = model.layerCosts();
      MemoryModel memory = new MemoryModel(costs, MemoryModels.clusterDeviceCoefficients(config))
          .withFrozenPrefixMicroBatch(spec.frozenPrefixMicroBatch()).withCompression(compression(spec));
      OptimizerKind optimizer = OptimizerKind.parse(spec.optimizer());
      if (spec.mode() == JobSpec.Mode.SUBMODELS) {
        return withOverlap(spec, SubModelPlanning.plan(spec, devices, model, memory, source), model);
      }
      if (spec.mode() == JobSpec.Mode.FULL) {
        return withOverlap(spec, fullUpdate(spec, devices, memory, optimizer, model), model);
      }
      JobSpec.PlannerKnobs knobs = spec.planner();
      Importance importance = switch (knobs.importance()) {
        case "positional" -> Importance.positional(costs);
        case "gradient-norm" -> Importance.fromGradientNorms(gradientNorms(model, data, spec), costs);
        default -> throw new IllegalArgumentException("job " + spec.jobId() + ": importance '"
            + knobs.importance() + "' is neither positional nor gradient-norm");
      };
      PlannerSettings settings = new PlannerSettings(PlanStrategy.parse(knobs.strategy()), spec.batch(),
          optimizer, spec.averagingInterval(), spec.refreshInterval(),
          new CommunicationModel(knobs.hopLatencySeconds(), knobs.linkBytesPerSecond()),
          knobs.communicationWeight(), knobs.memoryWeight(), knobs.channelSplits(),
          PlannerSettings.DEFAULT_MIN_CHANNEL_FRACTION, knobs.sharedTailLayers()).withCompression(compression(spec));
      TileGroupPlanning.Choice tiles = TileGroupPlanning.choose(spec, devices, model, data.imageShape());
      if (tiles == null) {
        List<DeviceBudget> budgets = devices.stream()
            .map(d -> new DeviceBudget(d.name(), d.budgetBytes())).toList();
        return withOverlap(spec, fromPlan(spec, Planner.plan(memory, budgets, importance, settings), model), model);
      }
      Plan plan = Planner.plan(memory, TileGroupPlanning.budgets(devices, tiles), importance, settings,
          tiles.tiledLayers());
      return withOverlap(spec, TileGroupPlanning.withTileGroup(spec, devices, fromPlan(spec, plan, model), tiles,
          model, memory), model);
    }
  }

  /** The core's compression settings for the job's. */
  public static Compression compression(JobSpec spec) {
    JobSpec.Compression job = spec.compression();
    return switch (job.kind()) {
      case "topk" -> new Compression(Compression.Kind.TOPK, job.ratio(), job.rows(), job.columns(), job.minFloats(),
          job.valuesShare());
      case "sketch" -> new Compression(Compression.Kind.SKETCH, job.ratio(), job.rows(), job.columns(), job.minFloats(),
          job.valuesShare());
      default -> Compression.NONE;
    };
  }

  /**
   * What compression does to each AllReduce group: its compressor's sizes and the bytes each member
   * sends against the dense ring's, or why it stays dense.
   */
  static String compressionDescription(JobSpec spec, List<GroupPlan> groups, LayeredModel model) {
    Compression compression = compression(spec);
    if (!compression.enabled()) {
      return "";
    }
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "compression: %s at %.0fx%n",
        spec.compression().kind(), compression.ratio()));
    for (GroupPlan group : groups) {
      if (!group.isAllReduce()) {
        continue;
      }
      int dimension = model.trainableLength(channelSlices(group.slices()));
      int members = group.updaters().size();
      Compression.Sizes sizes = compression.plan(dimension, members);
      double dense = Compression.NONE.plan(dimension, members).floatsSentPerMember(dimension, members);
      out.append(sizes.compressed()
          ? String.format(Locale.ROOT, "  %s: %d gradient floats, %s, %.2f MB sent per member and step instead of"
              + " %.2f MB%n", group.groupId(), dimension, sizes.kind() == Compression.Kind.SKETCH
              ? String.format(Locale.ROOT, "a %d x %d sketch then %d values", sizes.rows(), sizes.columns(), sizes.k())
              : String.format(Locale.ROOT, "%d pairs per member", sizes.k()),
              4 * sizes.floatsSentPerMember(dimension, members) / 1e6, 4 * dense / 1e6)
          : String.format(Locale.ROOT, "  %s: dense (%s)%n", group.groupId(), sizes.denseBecause()));
    }
    return out.toString();
  }

  /**
   * The plan with each device's AllReduce bytes per layer, and what overlap will do when the job
   * overlaps.
   */
  static PlannedJob withOverlap(JobSpec spec, PlannedJob planned, LayeredModel model) {
    Map<String, long[]> bytes = new LinkedHashMap<>();
    planned.assignments().keySet().forEach(device -> bytes.put(device, new long[model.layerCount()]));
    for (GroupPlan group : planned.groups()) {
      if (group.isAllReduce()) {
        for (ChannelSlice slice : channelSlices(group.slices())) {
          long payload = 4L * (model.trainableLength(List.of(slice)) + model.bufferLength(List.of(slice)));
          group.updaters().forEach(device -> bytes.get(device)[slice.layer()] += payload);
        }
      }
    }
    String description = planned.description() + compressionDescription(spec, planned.groups(), model);
    if (spec.overlaps()) {
      JobSpec.Overlap overlap = spec.overlap();
      long total = bytes.values().stream().flatMapToLong(java.util.Arrays::stream).sum();
      description += overlap.kind() == JobSpec.Overlap.Kind.FIXED
          ? String.format(Locale.ROOT, "overlap: the backward cut before layers %s, the same every step%n",
              fixedCuts(overlap, bytes))
          : String.format(Locale.ROOT, "overlap: DynaComm's dynamic decomposition of %.2f MiB of AllReduce per step:"
              + " the backward timed layer by layer on the second step%s, then cut into at most %d segments where"
              + " the slowest device's last AllReduce is predicted to end soonest%n", total / 1048576.0,
              overlap.profileEvery() > 0 ? " and every " + overlap.profileEvery() + " steps" : "", overlap.segments());
    }
    return new PlannedJob(planned.assignments(), planned.groups(), planned.layerNames(),
        planned.fullUpdatePeakBytes(), description, bytes);
  }

  /** Where the job's devices cut the backward of each step. */
  public static OverlapScheduler overlapScheduler(JobSpec spec, PlannedJob plan) {
    if (!spec.overlaps()) {
      return OverlapScheduler.fixed(List.of());
    }
    JobSpec.Overlap overlap = spec.overlap();
    return switch (overlap.kind()) {
      case OFF -> OverlapScheduler.fixed(List.of());
      case FIXED -> OverlapScheduler.fixed(fixedCuts(overlap, plan.allReduceBytesPerLayer()));
      case DYNAMIC -> new DynamicDecomposition(plan.allReduceBytesPerLayer(), overlap.segments(), overlap.profileEvery());
    };
  }

  /** Fixed cuts: segments of about equal AllReduce bytes, summed over the devices. */
  private static List<Integer> fixedCuts(JobSpec.Overlap overlap, Map<String, long[]> bytesPerDevice) {
    long[] summed = null;
    for (long[] bytes : bytesPerDevice.values()) {
      if (summed == null) {
        summed = new long[bytes.length];
      }
      for (int layer = 0; layer < bytes.length; layer++) {
        summed[layer] += bytes[layer];
      }
    }
    return summed == null ? List.of() : OverlapCuts.equalBytes(summed, overlap.segments());
  }

  /** Data-parallel: every device updates every layer, one AllReduce group of everyone. */
  static PlannedJob fullUpdate(JobSpec spec, List<DeviceInfo> devices, MemoryModel memory,
      OptimizerKind optimizer, LayeredModel model) {
    List<String> names = layerNames(model);
    List<GroupPlan.Slice> all = IntStream.range(0, names.size())
        .mapToObj(i -> GroupPlan.Slice.whole(i, model.layer(i).outputChannels())).toList();
    long peak = memory.fullUpdateBytes(spec.batch(), optimizer);
    if (spec.planner().memoryCheck()) {
      checkFits(spec, devices, peak);
    }
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    Table table = new Table("device", "budget MiB", "updated layers", "predicted MiB");
    for (DeviceInfo d : devices) {
      assignments.put(d.name(), new Assignment(d.name(), all, peak));
      table.row(d.name(), Table.mib(d.budgetBytes()), names.size(), Table.mib(peak));
    }
    List<String> updaters = devices.stream().map(DeviceInfo::name).toList();
    GroupPlan everything = group(spec, "all", all, updaters, model);
    return new PlannedJob(assignments, List.of(everything), names, peak,
        "full update (data-parallel): one AllReduce of all " + names.size() + " layers among "
            + devices.size() + " devices\n" + table);
  }

  /**
   * Refuses the full update when its predicted peak exceeds a device's budget: one line naming the
   * device that lacks the most, and by how much (a job that starts anyway ends at that device's limit,
   * killed by its kernel, or not at all).
   */
  static void checkFits(JobSpec spec, List<DeviceInfo> devices, long peak) {
    List<DeviceInfo> short_ = devices.stream().filter(d -> d.budgetBytes() < peak)
        .sorted(java.util.Comparator.comparingLong(DeviceInfo::budgetBytes).thenComparing(DeviceInfo::name)).toList();
    if (short_.isEmpty()) {
      return;
    }
    DeviceInfo worst = short_.get(0);
    String others = short_.size() == 1 ? "" : " (also short: " + String.join(", ", short_.subList(1, short_.size())
        .stream().map(DeviceInfo::name).toList()) + ")";
    throw new PlanRefused(worst.name(), String.format(java.util.Locale.ROOT,
        "the full update does not fit device %s: it needs %.1f MiB, the device has %.1f MiB (%.1f MiB short)%s;"
            + " use mode dsparse, or planner.memory-check = off to run it anyway", worst.name(), peak / 1048576.0,
        worst.budgetBytes() / 1048576.0, (peak - worst.budgetBytes()) / 1048576.0, others));
  }

  /** A plan refused before any device trains, naming the device it does not fit. */
  public static final class PlanRefused extends IllegalArgumentException {
    private final String device;

    PlanRefused(String device, String message) {
      super(message);
      this.device = device;
    }

    public String device() {
      return device;
    }
  }

  private static GroupPlan group(JobSpec spec, String id, List<GroupPlan.Slice> slices, List<String> updaters,
      LayeredModel model) {
    long bytes = 4L * model.weightLength(channelSlices(slices));
    return new GroupPlan(id, slices, updaters, updaters.get(0), bytes, spec.jobId() + "." + id);
  }

  /** A plan's slices as the trainer takes them. */
  public static List<ChannelSlice> channelSlices(List<GroupPlan.Slice> slices) {
    return slices.stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList();
  }

  /**
   * The learning-rate multiplier of each layer {@code device} updates, by the job's
   * {@code learning-rate-scaling} and the number of devices in the layer's group (a layer of which the
   * device holds slices in several groups takes the largest group's); layers at the plain rate are
   * left out.
   */
  public static Map<Integer, Double> learningRateScales(JobSpec spec, List<GroupPlan> groups, String device,
      int devices) {
    return learningRateScales(spec, groups, device, devices, null);
  }

  /**
   * The same for a member of a tile group ({@code tile}, or null): its tiled layers learn from one
   * batch a step, as one device's layers do.
   */
  public static Map<Integer, Double> learningRateScales(JobSpec spec, List<GroupPlan> groups, String device,
      int devices, TileRole tile) {
    Map<Integer, Integer> updaters = new TreeMap<>();
    for (GroupPlan group : groups) {
      if (!group.updaters().contains(device)) {
        continue;
      }
      int count = tile != null && group.groupId().equals(tile.groupId()) ? 1 : group.updaters().size();
      for (GroupPlan.Slice slice : group.slices()) {
        updaters.merge(slice.layer(), count, Math::max);
      }
    }
    Map<Integer, Double> scales = new TreeMap<>();
    updaters.forEach((layer, count) -> {
      double scale = spec.learningRateScale(count, devices);
      if (scale != 1) {
        scales.put(layer, scale);
      }
    });
    return scales;
  }

  /**
   * The ranks of the data shards {@code device} reads: its own; for a member of a tile group, every
   * member's, the head's first (the group reads one batch a step from them joined).
   */
  public static int[] dataShards(List<DeviceInfo> devices, String device, TileRole tile) {
    List<String> names = devices.stream().map(DeviceInfo::name).toList();
    List<String> readers = tile == null ? List.of(device) : tile.members();
    int[] shards = new int[readers.size()];
    for (int i = 0; i < shards.length; i++) {
      shards[i] = names.indexOf(readers.get(i));
      if (shards[i] < 0) {
        throw new IllegalArgumentException("device " + readers.get(i) + " of the tile group " + tile.members()
            + " is not among the job's devices " + names);
      }
    }
    return shards;
  }

  private static List<String> layerNames(LayeredModel model) {
    return model.layers().stream().map(l -> l.name()).toList();
  }

  static PlannedJob fromPlan(JobSpec spec, Plan plan, LayeredModel model) {
    List<String> names = layerNames(model);
    if (!plan.frozen().isEmpty()) {
      throw new IllegalArgumentException("the cluster cannot update every layer: " + plan.frozen());
    }
    List<GroupPlan> groups = new ArrayList<>();
    int index = 0;
    for (ProcessGroupSpec group : plan.groups()) {
      if (group.slices().isEmpty()) {
        continue;
      }
      List<GroupPlan.Slice> slices = new ArrayList<>();
      for (LayerSlice slice : group.slices()) {
        slices.add(new GroupPlan.Slice(slice.layer(), slice.channels().from(), slice.channels().to()));
      }
      GroupPlan planned = group(spec, "g" + index++, slices, group.updaters().devices(), model);
      groups.add(planned.withOwner(group.owner()));
    }
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    for (DeviceAssignment d : plan.devices()) {
      List<GroupPlan.Slice> slices = groups.stream().filter(g -> g.updaters().contains(d.device()))
          .flatMap(g -> g.slices().stream())
          .sorted(Comparator.comparingInt(GroupPlan.Slice::layer).thenComparingInt(GroupPlan.Slice::from))
          .toList();
      Assignment assignment = new Assignment(d.device(), slices, d.predictedPeakBytes());
      // A layer without weights is in no group; it runs in training mode all the same.
      List<Integer> planned = d.update().layers().stream()
          .filter(i -> model.layer(i).trainableParams() > 0).boxed().toList();
      if (!assignment.updatedLayers().equals(planned)) {
        throw new IllegalStateException("plan inconsistent for device " + d.device() + ": it updates layers "
            + planned + " but its groups hold slices of " + assignment.updatedLayers());
      }
      assignments.put(d.device(), assignment);
    }
    return new PlannedJob(assignments, groups, names, plan.fullUpdatePeakBytes(), plan.describe());
  }

  /** Mean gradient norm of each layer over a few batches of a full update. */
  static double[] gradientNorms(LayeredModel model, ImageSetDataset data, JobSpec spec) {
    int n = model.layerCount();
    double[] norms = new double[n];
    SparseTrainer trainer = new SparseTrainer(model, UpdateSet.all(n),
        new OptimizerSpec(OptimizerKind.SGD, spec.learningRate(), 0, 0));
    int batches = 0;
    for (ImageBatch batch : data.batches(model.manager(), spec.batch(), spec.seed(), 0)) {
      try (batch) {
        trainer.forwardBackward(batch.images(), batch.labels());
        for (int i = 0; i < n; i++) {
          double sum = 0;
          for (float g : trainer.exportGradients(new int[] {i})) {
            sum += (double) g * g;
          }
          norms[i] += Math.sqrt(sum) / IMPORTANCE_BATCHES;
        }
        trainer.discardGradients();
      }
      if (++batches == IMPORTANCE_BATCHES) {
        break;
      }
    }
    return norms;
  }

}
