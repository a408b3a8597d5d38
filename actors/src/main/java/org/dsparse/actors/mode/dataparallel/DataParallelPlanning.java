package org.dsparse.actors.mode.dataparallel;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.dsparse.actors.plan.PlanRefused;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Planning;
import org.dsparse.core.cli.Table;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.plan.CommunicationModel;
import org.dsparse.core.plan.DeviceAssignment;
import org.dsparse.core.plan.Importance;
import org.dsparse.core.plan.LayerSlice;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.core.plan.PlannerSettings;
import org.dsparse.core.plan.ProcessGroupSpec;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * Plans of the data-parallel modes: the full update (every device every layer, one AllReduce group
 * of everyone), and DSparse's (the core {@link org.dsparse.core.plan.Planner}'s memory-aware update
 * sets turned into process groups). Runs on the DJL thread: the layer costs come from the real
 * network's shapes, and gradient-norm importance from a few real backward passes.
 */
public final class DataParallelPlanning {
  /** Batches whose gradients are averaged when importance is measured. */
  private static final int IMPORTANCE_BATCHES = 4;

  private DataParallelPlanning() {}

  /** Data-parallel: every device updates every layer, one AllReduce group of everyone. */
  static PlannedJob fullUpdate(Planning p) {
    JobSpec spec = p.spec();
    LayeredModel model = p.model();
    List<String> names = Plans.layerNames(model);
    List<GroupPlan.Slice> all = IntStream.range(0, names.size())
        .mapToObj(i -> GroupPlan.Slice.whole(i, model.layer(i).outputChannels())).toList();
    // The full update runs the micro-batch the job names, and whole batches with auto (DSparse's choice).
    long peak = p.memory().withUpdateMicroBatch(Math.max(0, spec.updateMicroBatch()))
        .fullUpdateBytes(spec.batch(), p.optimizer());
    if (spec.planner().memoryCheck()) {
      checkFits(p.devices(), peak);
    }
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    Table table = new Table("device", "budget MiB", "updated layers", "predicted MiB");
    for (DeviceInfo d : p.devices()) {
      assignments.put(d.name(), new Assignment(d.name(), all, peak));
      table.row(d.name(), Table.mib(d.budgetBytes()), names.size(), Table.mib(peak));
    }
    List<String> updaters = p.devices().stream().map(DeviceInfo::name).toList();
    GroupPlan everything = Plans.group(spec, "all", all, updaters, model);
    return new PlannedJob(assignments, List.of(everything), names, peak,
        "full update (data-parallel): one AllReduce of all " + names.size() + " layers among "
            + p.devices().size() + " devices\n" + table);
  }

  /**
   * Refuses the full update when its predicted peak exceeds a device's budget: one line naming the
   * device that lacks the most, and by how much (a job that starts anyway ends at that device's limit,
   * killed by its kernel, or not at all).
   */
  static void checkFits(List<DeviceInfo> devices, long peak) {
    List<DeviceInfo> short_ = devices.stream().filter(d -> d.budgetBytes() < peak)
        .sorted(Comparator.comparingLong(DeviceInfo::budgetBytes).thenComparing(DeviceInfo::name)).toList();
    if (short_.isEmpty()) {
      return;
    }
    DeviceInfo worst = short_.get(0);
    String others = short_.size() == 1 ? "" : " (also short: " + String.join(", ", short_.subList(1, short_.size())
        .stream().map(DeviceInfo::name).toList()) + ")";
    throw new PlanRefused(worst.name(), String.format(Locale.ROOT,
        "the full update does not fit device %s: it needs %.1f MiB, the device has %.1f MiB (%.1f MiB short)%s;"
            + " use mode dsparse, or planner.memory-check = off to run it anyway", worst.name(), peak / 1048576.0,
        worst.budgetBytes() / 1048576.0, (peak - worst.budgetBytes()) / 1048576.0, others));
  }

  /** The importance of each layer by the job's planner setting. */
  public static Importance importance(Planning p) {
    JobSpec spec = p.spec();
    String kind = spec.planner().importance();
    return switch (kind) {
      case "positional" -> Importance.positional(p.model().layerCosts());
      case "gradient-norm" -> Importance.fromGradientNorms(gradientNorms(p.model(), p.data(), spec),
          p.model().layerCosts());
      default -> throw new IllegalArgumentException("job " + spec.jobId() + ": importance '" + kind
          + "' is neither positional nor gradient-norm");
    };
  }

  /** The core planner's settings from the job's. */
  public static PlannerSettings settings(Planning p) {
    JobSpec spec = p.spec();
    JobSpec.PlannerKnobs knobs = spec.planner();
    return new PlannerSettings(PlanStrategy.parse(knobs.strategy()), spec.batch(),
        p.optimizer(), spec.averagingInterval(), spec.refreshInterval(),
        new CommunicationModel(knobs.hopLatencySeconds(), knobs.linkBytesPerSecond()),
        knobs.communicationWeight(), knobs.memoryWeight(), knobs.channelSplits(),
        PlannerSettings.DEFAULT_MIN_CHANNEL_FRACTION, knobs.sharedTailLayers()).withCompression(Plans.compression(spec))
        .withRefreshShare(Plans.refreshShare(spec));
  }

  /** The core planner's plan as devices receive it: its process groups and each device's slices. */
  public static PlannedJob fromPlan(JobSpec spec, Plan plan, LayeredModel model) {
    List<String> names = Plans.layerNames(model);
    // A uniform tail freezes the layers below it on every device on purpose (its plan says which): they
    // are in no group, so no device updates or refreshes them and every device keeps them as they started.
    if (!plan.frozen().isEmpty() && plan.strategy().coversEveryLayer()) {
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
      GroupPlan planned = Plans.group(spec, "g" + index++, slices, group.updaters().devices(), model);
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

  /**
   * {@code planned} (made from {@code plan}) with, under {@code update-micro-batch = auto}, each device's
   * own micro-batch; as it is otherwise.
   */
  static PlannedJob withOwnMicroBatches(Planning p, Plan plan, PlannedJob planned) {
    if (p.spec().updateMicroBatch() != JobSpec.AUTO_MICRO_BATCH) {
      return planned;
    }
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    for (DeviceAssignment d : plan.devices()) {
      assignments.put(d.device(), withOwnMicroBatch(p, d, planned.assignments().get(d.device())));
    }
    return new PlannedJob(assignments, planned.groups(), planned.layerNames(), planned.fullUpdatePeakBytes(),
        planned.description() + microBatchDescription(p.spec(), assignments));
  }

  /**
   * The largest micro-batch (the batch halved as often as needed, down to the smallest the plan was made
   * with) under which the device's update set fits its budget. Larger micro-batches cost less time per
   * sample and change BatchNorm's statistics less.
   */
  private static Assignment withOwnMicroBatch(Planning p, DeviceAssignment d, Assignment assignment) {
    int batch = p.spec().batch();
    for (int samples = batch; samples >= JobSpec.SMALLEST_MICRO_BATCH; samples /= 2) {
      int micro = samples == batch ? 0 : samples;
      long peak = p.memory().withUpdateMicroBatch(micro).predict(d.update(), batch, p.optimizer()).totalBytes();
      if (peak <= d.budgetBytes() || samples / 2 < JobSpec.SMALLEST_MICRO_BATCH) {
        return assignment.withUpdateMicroBatch(micro, peak);
      }
    }
    return assignment;
  }

  private static String microBatchDescription(JobSpec spec, Map<String, Assignment> assignments) {
    if (spec.updateMicroBatch() != JobSpec.AUTO_MICRO_BATCH) {
      return "";
    }
    StringBuilder out = new StringBuilder("update micro-batches (auto, batch " + spec.batch() + "):");
    assignments.values().forEach(a -> out.append(' ').append(a.device()).append(' ')
        .append(a.updateMicroBatch() == 0 ? "whole" : Integer.toString(a.updateMicroBatch())));
    return out.append('\n').toString();
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
