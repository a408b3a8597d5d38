package org.dsparse.core.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * What an {@link Assignment} costs and is worth: each device's predicted peak, the predicted
 * aggregation time of a step, and the quality: per layer, its importance times the square root of
 * the share of the cluster's data its gradient is averaged over (a gradient's signal-to-noise ratio
 * grows with the root of its samples), summed; 1 for data-parallel, 0 for nothing updated.
 */
final class Evaluation {
  final long[] peaks;
  final boolean fits;
  final int uncovered;
  final double quality;
  final List<Long> masks;
  final long[] groupBytes;
  final double[] collectiveSeconds;
  final double[] refreshSeconds;
  final AggregationCost cost;
  final double score;

  Evaluation(PlanningProblem p, Assignment a) {
    int n = p.deviceCount();
    peaks = new long[n];
    boolean ok = true;
    for (int d = 0; d < n; d++) {
      peaks[d] = p.peakBytes(a.fractionsOf(d, p.units));
      ok &= peaks[d] <= p.budget(d);
    }
    fits = ok;

    int missing = 0;
    double q = 0;
    for (int l = 0; l < p.layerCount(); l++) {
      if (p.trainable[l] && a.assignedUnits(l) < p.units[l]) {
        missing++;
      }
      for (Map.Entry<Long, Integer> e : a.slices(l).entrySet()) {
        q += p.importance.weight(l) / p.trainableImportance * e.getValue() / p.units[l]
            * Math.sqrt((double) Long.bitCount(e.getKey()) / n);
      }
    }
    uncovered = missing;
    quality = q;

    masks = a.masks();
    groupBytes = new long[masks.size()];
    collectiveSeconds = new double[masks.size()];
    refreshSeconds = new double[masks.size()];
    CommunicationModel net = p.settings.communication();
    int refresh = p.settings.refreshInterval();
    double refreshTotal = 0;
    for (int g = 0; g < masks.size(); g++) {
      long mask = masks.get(g);
      for (int l = 0; l < p.layerCount(); l++) {
        Integer u = a.slices(l).get(mask);
        if (u != null) {
          groupBytes[g] += p.sliceBytes(l, u);
        }
      }
      int members = Long.bitCount(mask);
      collectiveSeconds[g] = p.settings.aggregationSeconds(members, groupBytes[g]) / p.settings.averagingInterval();
      refreshSeconds[g] = refresh == 0 ? 0
          : net.broadcastSeconds(n - members, Math.round(groupBytes[g] * p.settings.refreshShare()));
      refreshTotal += refresh == 0 ? 0 : refreshSeconds[g] / refresh;
    }
    cost = new AggregationCost(schedule(), refreshTotal);
    double baseline = p.dataParallel.totalSeconds();
    double relative = baseline == 0 ? 0 : cost.totalSeconds() / baseline;
    double meanPeak = java.util.Arrays.stream(peaks).average().orElse(0);
    score = quality - p.settings.communicationWeight() * relative
        - p.settings.memoryWeight() * meanPeak / p.fullUpdatePeak;
  }

  /**
   * The AllReduces' makespan: longest first, each starting once all its members are free, so
   * groups with disjoint members overlap and groups sharing a device queue behind each other.
   */
  private double schedule() {
    List<Integer> order = new ArrayList<>();
    for (int g = 0; g < masks.size(); g++) {
      order.add(g);
    }
    order.sort(Comparator.comparingDouble((Integer g) -> -collectiveSeconds[g]).thenComparing(g -> g));
    double[] free = new double[peaks.length];
    double makespan = 0;
    for (int g : order) {
      if (collectiveSeconds[g] == 0) {
        continue;
      }
      long mask = masks.get(g);
      double start = 0;
      for (int d = 0; d < free.length; d++) {
        if ((mask & (1L << d)) != 0) {
          start = Math.max(start, free[d]);
        }
      }
      double end = start + collectiveSeconds[g];
      for (int d = 0; d < free.length; d++) {
        if ((mask & (1L << d)) != 0) {
          free[d] = end;
        }
      }
      makespan = Math.max(makespan, end);
    }
    return makespan;
  }

  /** Whether every device in {@code mask} stays within budget under {@code a}. */
  static boolean fits(PlanningProblem p, Assignment a, long mask) {
    for (int d = 0; d < p.deviceCount(); d++) {
      if ((mask & (1L << d)) != 0 && p.peakBytes(a.fractionsOf(d, p.units)) > p.budget(d)) {
        return false;
      }
    }
    return true;
  }

  /** Fewer uncovered layers first, then the higher score. */
  boolean betterThan(Evaluation other) {
    if (other == null) {
      return true;
    }
    if (uncovered != other.uncovered) {
      return uncovered < other.uncovered;
    }
    return score > other.score + 1e-12;
  }
}
