package org.dsparse.core.plan;

import java.util.BitSet;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.dsparse.core.memory.UpdateSet;

/**
 * The DSparse paper's memory-only plan, the baseline: each device updates the longest suffix of
 * whole layers its budget holds; a layer no suffix reaches goes, in importance order, to the device
 * with the most room left that can take it.
 */
final class SuffixStrategy {
  private SuffixStrategy() {}

  static Assignment assign(PlanningProblem p) {
    int layers = p.layerCount();
    long[] updaters = new long[layers];
    for (int d = 0; d < p.deviceCount(); d++) {
      BitSet suffix = new BitSet();
      for (int l = layers - 1; l >= 0; l--) {
        if (p.trainable[l]) {
          suffix.set(l);
          if (!fits(p, UpdateSet.of(layers, suffix), d)) {
            break;
          }
          updaters[l] |= 1L << d;
        }
      }
    }
    for (int l : p.importance.order()) {
      if (!p.trainable[l] || updaters[l] != 0) {
        continue;
      }
      long[] current = updaters;
      int layer = l;
      int[] byRoom = IntStream.range(0, p.deviceCount()).boxed()
          .sorted(Comparator.comparingLong((Integer d) -> peak(p, current, d) - p.budget(d))
              .thenComparing(d -> d))
          .mapToInt(Integer::intValue).toArray();
      for (int d : byRoom) {
        updaters[layer] = 1L << d;
        if (peak(p, updaters, d) <= p.budget(d)) {
          break;
        }
        updaters[layer] = 0;
      }
    }
    Assignment a = new Assignment(layers);
    for (int l = 0; l < layers; l++) {
      if (updaters[l] != 0) {
        a.add(l, updaters[l], p.units[l]);
      }
    }
    return a;
  }

  private static boolean fits(PlanningProblem p, UpdateSet update, int device) {
    return p.model.predict(update, p.settings.batch(), p.settings.optimizer()).totalBytes()
        <= p.budget(device);
  }

  private static long peak(PlanningProblem p, long[] updaters, int device) {
    double[] f = new double[updaters.length];
    for (int l = 0; l < f.length; l++) {
      f[l] = (updaters[l] & (1L << device)) != 0 ? 1 : 0;
    }
    return p.peakBytes(f);
  }
}
