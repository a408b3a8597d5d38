package org.dsparse.core.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.dsparse.core.memory.UpdateSet;

/**
 * Who updates what: each device's update set within its budget, the process groups that follow,
 * the layers nobody can update, and the predicted aggregation time next to data-parallel's.
 *
 * @param strategy the strategy that made the plan
 * @param devices per device, in name order
 * @param groups process groups in updater-set order
 * @param frozen layers no device updates, with the reason
 * @param aggregation predicted aggregation time per step of this plan
 * @param dataParallel the same for every device AllReducing every layer
 * @param fullUpdatePeakBytes the predicted peak of updating every layer, for memory comparisons
 * @param quality importance-weighted square root of the share of the cluster's data each layer
 *     learns from (1 for data-parallel)
 * @param refreshInterval steps between refreshes of non-updaters (0: never)
 */
public record Plan(
    PlanStrategy strategy,
    List<DeviceAssignment> devices,
    List<ProcessGroupSpec> groups,
    List<FrozenLayer> frozen,
    AggregationCost aggregation,
    AggregationCost dataParallel,
    long fullUpdatePeakBytes,
    double quality,
    int refreshInterval) {

  public Plan {
    devices = List.copyOf(devices);
    groups = List.copyOf(groups);
    frozen = List.copyOf(frozen);
  }

  public DeviceAssignment device(String name) {
    return devices.stream().filter(d -> d.device().equals(name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no device " + name + " in the plan"));
  }

  /** 1 - this plan's aggregation time / data-parallel's; 0.75 is the paper's target. */
  public double aggregationReduction() {
    double base = dataParallel.totalSeconds();
    return base == 0 ? 0 : 1 - aggregation.totalSeconds() / base;
  }

  /** 1 - the mean over devices of predicted peak / the full update's peak. */
  public double averageMemoryReduction() {
    return 1 - devices.stream().mapToDouble(d -> (double) d.predictedPeakBytes() / fullUpdatePeakBytes)
        .average().orElse(1);
  }

  static Plan from(PlanningProblem p, Assignment a) {
    return from(p, a, l -> frozenReason(p, a, l));
  }

  /** The plan of {@code a}, each layer it leaves frozen with the reason {@code frozenReason} gives. */
  static Plan from(PlanningProblem p, Assignment a, java.util.function.IntFunction<String> frozenReason) {
    Evaluation e = new Evaluation(p, a);
    List<DeviceAssignment> devices = new ArrayList<>();
    for (int d = 0; d < p.deviceCount(); d++) {
      DeviceBudget b = p.devices.get(d);
      devices.add(new DeviceAssignment(b.device(), UpdateSet.ofFractions(a.fractionsOf(d, p.units)),
          e.peaks[d], b.budgetBytes()));
      if (e.peaks[d] > b.budgetBytes()) {
        throw new IllegalStateException("planner bug: device " + b.device() + " predicted at "
            + e.peaks[d] + " bytes over its budget " + b.budgetBytes());
      }
    }
    // Channel ranges: each layer's slices laid out in mask order, contiguous from channel 0.
    Map<Long, List<LayerSlice>> slicesByMask = new TreeMap<>(PlanningProblem::compareMasks);
    List<FrozenLayer> frozen = new ArrayList<>();
    for (int l = 0; l < p.layerCount(); l++) {
      if (!p.trainable[l]) {
        continue;
      }
      if (a.assignedUnits(l) < p.units[l]) {
        frozen.add(new FrozenLayer(l, p.layerName(l), frozenReason.apply(l)));
        continue;
      }
      int channels = Math.max(1, p.model.layers().get(l).outputChannels());
      int from = 0;
      for (Map.Entry<Long, Integer> s : a.slices(l).entrySet()) {
        boolean whole = s.getValue() == p.units[l];
        int to = whole ? channels : from + s.getValue();
        slicesByMask.computeIfAbsent(s.getKey(), k -> new ArrayList<>()).add(new LayerSlice(l,
            p.layerName(l), new ChannelRange(from, to), whole, p.sliceBytes(l, s.getValue())));
        from = to;
      }
    }
    List<ProcessGroupSpec> groups = new ArrayList<>();
    for (int g = 0; g < e.masks.size(); g++) {
      long mask = e.masks.get(g);
      UpdaterSet updaters = p.updaterSet(mask);
      groups.add(new ProcessGroupSpec(updaters,
          updaters.size() >= 2 ? ProcessGroupSpec.Kind.ALL_REDUCE : ProcessGroupSpec.Kind.BROADCAST,
          slicesByMask.getOrDefault(mask, List.of()), e.groupBytes[g], e.collectiveSeconds[g],
          e.refreshSeconds[g]));
    }
    groups.sort((x, y) -> x.updaters().compareTo(y.updaters()));
    return new Plan(p.settings.strategy(), devices, groups, frozen, e.cost, p.dataParallel,
        p.model.fullUpdateBytes(p.settings.batch(), p.settings.optimizer()), e.quality,
        p.settings.refreshInterval());
  }

  private static String frozenReason(PlanningProblem p, Assignment a, int l) {
    String slice = p.splittable(l)
        ? String.format(Locale.ROOT, "%d of its %d channels", p.minUnits[l], p.units[l]) : "whole";
    int largest = 0;
    for (int d = 1; d < p.deviceCount(); d++) {
      if (p.budget(d) > p.budget(largest)) {
        largest = d;
      }
    }
    long alone = p.cheapestBytes(l);
    if (alone > p.budget(largest)) {
      return "even alone (" + slice + ") it needs " + alone + " bytes, more than the largest budget, "
          + p.budget(largest) + " bytes of device " + p.devices.get(largest).device();
    }
    long leastExcess = Long.MAX_VALUE;
    int closest = 0;
    for (int d = 0; d < p.deviceCount(); d++) {
      double[] f = a.fractionsOf(d, p.units);
      f[l] = Math.max(f[l], (double) p.minUnits[l] / p.units[l]);
      long excess = p.peakBytes(f) - p.budget(d);
      if (excess < leastExcess) {
        leastExcess = excess;
        closest = d;
      }
    }
    return "every device is full with more important layers; the closest, "
        + p.devices.get(closest).device() + ", would exceed its budget by " + leastExcess
        + " bytes to add it (" + slice + ")";
  }

  /** A readable table of devices, groups, frozen layers and costs. */
  public String describe() {
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "Plan (%s): %d devices, %d process groups, %d frozen layers, "
            + "quality %.3f%n", strategy.key(),
        devices.size(), groups.size(), frozen.size(), quality));
    s.append(String.format(Locale.ROOT, "%-14s %11s %11s %5s  %s%n", "device", "budget", "peak", "use",
        "updates (layer@channel fraction)"));
    for (DeviceAssignment d : devices) {
      s.append(String.format(Locale.ROOT, "%-14s %11s %11s %4.0f%%  %s%n", d.device(),
          mib(d.budgetBytes()), mib(d.predictedPeakBytes()), 100 * d.budgetUse(), d.update()));
    }
    s.append(String.format(Locale.ROOT, "%-10s %-28s %11s %10s %10s  %s%n", "kind", "updaters",
        "payload", "step s", "refresh s", "slices"));
    for (ProcessGroupSpec g : groups) {
      s.append(String.format(Locale.ROOT, "%-10s %-28s %11s %10.4f %10.4f  %s%n",
          g.kind() == ProcessGroupSpec.Kind.ALL_REDUCE ? "allreduce" : "broadcast", g.updaters(),
          mib(g.bytes()), g.collectiveSeconds(), g.refreshSeconds(), g.slices()));
    }
    // Consecutive layers frozen for the same reason (a uniform tail's whole body) share one line.
    for (int i = 0; i < frozen.size(); ) {
      int j = i;
      while (j + 1 < frozen.size() && frozen.get(j + 1).layer() == frozen.get(j).layer() + 1
          && frozen.get(j + 1).reason().equals(frozen.get(i).reason())) {
        j++;
      }
      List<FrozenLayer> run = frozen.subList(i, j + 1);
      s.append("frozen ").append(run.get(0).layer()).append(i == j ? "" : "-" + run.get(run.size() - 1).layer())
          .append(" (").append(String.join(", ", run.stream().map(FrozenLayer::name).toList())).append("): ")
          .append(run.get(0).reason()).append(System.lineSeparator());
      i = j + 1;
    }
    s.append(String.format(Locale.ROOT,
        "aggregation per step %.4f s (collectives %.4f s + refresh %.4f s, every %s); "
            + "data-parallel %.4f s; reduction %.1f%%%n",
        aggregation.totalSeconds(), aggregation.collectiveSeconds(), aggregation.refreshSeconds(),
        refreshInterval == 0 ? "never" : refreshInterval + " steps", dataParallel.totalSeconds(),
        100 * aggregationReduction()));
    s.append(String.format(Locale.ROOT, "memory: full update %s per device; mean reduction %.1f%%%n",
        mib(fullUpdatePeakBytes), 100 * averageMemoryReduction()));
    return s.toString();
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.2f MiB", bytes / (1024.0 * 1024.0));
  }
}
