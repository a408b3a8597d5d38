package org.dsparse.actors.mode.tiles;

import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.core.memory.MemoryEstimate;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.plan.DeviceBudget;
import org.dsparse.core.tiling.TiledLayer;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.tiling.TiledGroup;

/**
 * How a job's tile group combines with DSparse's plan. The tile group's members train the first
 * layers together on the head's batches, each on its tile; DSparse plans the layers above them among
 * the other devices and the head, which stands in the plan for the whole tile group with its budget
 * less what its own tile keeps for the backward. The tiled layers form one more process group, its
 * updaters the members (their AllReduce adds up the tiles' gradients: each member leaves its tile's
 * gradient times the group's size, so the average is the batch's gradient), its owner the head,
 * which refreshes them to the other devices as any group's owner does. So the small devices share
 * the early layers, whose activations at a high input resolution only the largest device could
 * hold, and the largest device's memory goes to the layers above them.
 */
final class TileGroupPlanning {
  /** The plan's group of the tiled layers. */
  static final String GROUP_ID = "tiles";

  /**
   * The tile group chosen for a job.
   *
   * @param members head first (the member with the most memory), then by name
   * @param tiled the tiled layers' geometry
   * @param chosen the cost model's grid and fused groups for the members
   * @param untiled the same layers on one device, for comparison
   * @param fixedGrouping whether {@code chosen} is the best grouping that fuses every n layers
   *     ({@code tiling.grouping = fixed}) rather than the best of any shape
   */
  record Choice(List<DeviceInfo> members, List<TiledLayer> tiled, TilingCostModel.Cost chosen,
      TilingCostModel.Cost untiled, boolean fixedGrouping) {
    DeviceInfo head() {
      return members.get(0);
    }

    int tiledLayers() {
      return tiled.size();
    }

    /** What a member keeps for its tiles' backward while the step runs. */
    long keptBytes() {
      return Math.round(chosen.storedBytesPerDevice());
    }

    List<String> names() {
      return members.stream().map(DeviceInfo::name).toList();
    }

    TileRole role() {
      List<Integer> ends = chosen.groups().stream().map(TilingCostModel.Group::to).toList();
      return new TileRole(GROUP_ID, names(), ends, chosen.grid().rows(), chosen.grid().columns());
    }
  }

  private TileGroupPlanning() {}

  /**
   * The job's tile group among {@code devices}, or null when the job tiles nothing or fewer than two
   * of its devices are left to tile (a re-plan after members were lost then plans without tiling).
   */
  static Choice choose(JobSpec spec, List<DeviceInfo> devices, LayeredModel model, Shape image) {
    JobSpec.Tiling tiling = spec.tiling();
    if (!tiling.enabled()) {
      return null;
    }
    List<DeviceInfo> members;
    if (!tiling.devices().isEmpty()) {
      members = devices.stream().filter(d -> tiling.devices().contains(d.name())).toList();
    } else {
      members = devices.stream().sorted(Comparator.comparingLong(DeviceInfo::budgetBytes)
          .thenComparing(DeviceInfo::name)).limit(tiling.count()).toList();
    }
    if (members.size() < 2) {
      return null;
    }
    List<DeviceInfo> ordered = new ArrayList<>(members);
    ordered.sort(Comparator.comparingLong(DeviceInfo::budgetBytes).reversed().thenComparing(DeviceInfo::name));
    DeviceInfo head = ordered.remove(0);
    ordered.sort(Comparator.comparing(DeviceInfo::name));
    ordered.add(0, head);
    int layers = tiling.layers();
    if (layers >= model.layerCount()) {
      throw new IllegalArgumentException("tiling.layers = " + layers + ": the model " + model.name() + " has "
          + model.layerCount() + " layers, and the head needs at least one above the tiled ones");
    }
    List<TiledLayer> tiled;
    try {
      tiled = TiledGroup.of(model.layers().subList(0, layers), (int) image.get(0), (int) image.get(1),
          (int) image.get(2)).layers();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("tiling.layers = " + layers + ": " + e.getMessage());
    }
    JobSpec.PlannerKnobs knobs = spec.planner();
    TilingCostModel costs = new TilingCostModel(tiled, (int) image.get(1), (int) image.get(2), spec.batch(),
        tiling.flopsPerSecond(), 2, knobs.linkBytesPerSecond(), knobs.hopLatencySeconds());
    TilingCostModel.Cost chosen = costs.best(ordered.size());
    if (chosen != null && tiling.grouping().equals(JobSpec.Tiling.FIXED_GROUPING)) {
      chosen = costs.bestFixed(chosen.grid());
    }
    if (chosen == null) {
      throw new IllegalArgumentException("tiling: no grid of " + ordered.size() + " tiles fits the output of the first "
          + layers + " layers at " + image.get(1) + " x " + image.get(2) + " pixels; tile fewer layers or devices");
    }
    return new Choice(List.copyOf(ordered), tiled, chosen, costs.best(new TilingCostModel.Grid(1, 1)),
        tiling.grouping().equals(JobSpec.Tiling.FIXED_GROUPING));
  }

  /**
   * The budgets DSparse plans with: the devices outside the tile group, and the head with what its
   * tile keeps taken off its budget.
   */
  static List<DeviceBudget> budgets(List<DeviceInfo> devices, Choice choice) {
    List<DeviceBudget> budgets = new ArrayList<>();
    for (DeviceInfo d : devices) {
      if (d.name().equals(choice.head().name())) {
        long left = d.budgetBytes() - choice.keptBytes();
        if (left <= 0) {
          throw new IllegalArgumentException("tiling: device " + d.name() + " heads the tile group, whose tile keeps "
              + choice.keptBytes() + " bytes for its backward, above its budget of " + d.budgetBytes());
        }
        budgets.add(new DeviceBudget(d.name(), left));
      } else if (!choice.names().contains(d.name())) {
        budgets.add(new DeviceBudget(d.name(), d.budgetBytes()));
      }
    }
    return budgets;
  }

  /**
   * DSparse's plan of the layers above the tiled ones ({@code planned}) with the tile group added:
   * the tiled layers' group, the members' assignments and the head's tiled layers beside its own.
   */
  static PlannedJob withTileGroup(JobSpec spec, List<DeviceInfo> devices, PlannedJob planned, Choice choice,
      LayeredModel model, MemoryModel memory) {
    List<GroupPlan.Slice> tiledSlices = IntStream.range(0, choice.tiledLayers())
        .filter(l -> model.layer(l).trainableParams() > 0)
        .mapToObj(l -> GroupPlan.Slice.whole(l, model.layer(l).outputChannels())).toList();
    if (tiledSlices.isEmpty()) {
      throw new IllegalArgumentException("tiling.layers = " + choice.tiledLayers() + ": the tiled layers have no"
          + " weights to train");
    }
    GroupPlan tiles = new GroupPlan(GROUP_ID, tiledSlices, choice.names(), choice.head().name(),
        4L * model.weightLength(Plans.channelSlices(tiledSlices)), spec.jobId() + "." + GROUP_ID);
    List<GroupPlan> groups = new ArrayList<>(planned.groups());
    groups.add(0, tiles);
    TileRole role = choice.role();
    long memberPeak = memberPeak(spec, memory, choice);
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    for (DeviceInfo d : devices) {
      if (d.name().equals(choice.head().name())) {
        Assignment own = planned.assignments().get(d.name());
        List<GroupPlan.Slice> slices = new ArrayList<>(tiledSlices);
        slices.addAll(own.updatedSlices());
        assignments.put(d.name(), new Assignment(d.name(), slices, own.predictedPeakBytes() + choice.keptBytes(), role));
      } else if (choice.names().contains(d.name())) {
        if (memberPeak > d.budgetBytes()) {
          throw new IllegalArgumentException("tiling: device " + d.name() + " cannot hold its tile: it needs about "
              + memberPeak + " bytes, its budget is " + d.budgetBytes() + "; tile over more devices or fewer layers");
        }
        assignments.put(d.name(), new Assignment(d.name(), tiledSlices, memberPeak, role));
      } else {
        assignments.put(d.name(), planned.assignments().get(d.name()));
      }
    }
    return new PlannedJob(assignments, groups, planned.layerNames(), planned.fullUpdatePeakBytes(),
        describe(choice, model, memberPeak, assignments.get(choice.head().name()).predictedPeakBytes())
            + planned.description());
  }

  /**
   * A member's predicted peak: the model's weights, the tiled layers' gradients and optimizer state,
   * what its tiles keep for the backward (as updated activations are calibrated) and the fixed cost
   * of training.
   */
  private static long memberPeak(JobSpec spec, MemoryModel memory, Choice choice) {
    double[] fractions = new double[memory.layers().size()];
    for (int l = 0; l < choice.tiledLayers(); l++) {
      fractions[l] = 1;
    }
    MemoryEstimate untiled = memory.predict(UpdateSet.ofFractions(fractions), spec.batch(),
        OptimizerKind.parse(spec.optimizer()));
    return untiled.weightBytes() + untiled.gradientBytes() + untiled.optimizerStateBytes()
        + Math.round(choice.keptBytes() * memory.coefficients().updatedActivationFactor()) + untiled.overheadBytes();
  }

  private static String describe(Choice choice, LayeredModel model, long memberPeak, long headPeak) {
    TilingCostModel.Cost c = choice.chosen();
    TilingCostModel.Cost one = choice.untiled();
    return String.format(Locale.ROOT, "tile group: layers 0-%d (%s to %s) tiled over %s (head %s), the cost model's"
        + " choice: %s tiles, fused groups %s%s; predicted %.1f ms per step for the tiled layers against %.1f ms on one"
        + " device, %.2f MB exchanged per step, %.1f MB kept per member against %.1f MB untiled; predicted peak"
        + " %.1f MiB per member, %.1f MiB on the head%n"
        + "the plan below covers layers %d-%d, the head standing for the tile group (its budget less its tile)%n",
        choice.tiledLayers() - 1, model.layer(0).name(), model.layer(choice.tiledLayers() - 1).name(), choice.names(),
        choice.head().name(), c.grid(), c.groups(),
        choice.fixedGrouping() ? " (the best grouping that fuses every n layers: tiling.grouping = fixed)" : "",
        c.seconds() * 1e3, one.seconds() * 1e3, c.bytesPerStep() / 1e6,
        c.storedBytesPerDevice() / 1e6, one.storedBytesPerDevice() / 1e6, memberPeak / 1048576.0,
        headPeak / 1048576.0, choice.tiledLayers(), model.layerCount() - 1);
  }
}
