package org.dsparse.core.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The working form of a plan while a strategy searches: for each layer, which updater masks hold
 * how many of its channel units. Slices of one layer are disjoint by construction; they cover the
 * layer when their units add up to the layer's.
 */
final class Assignment {
  private final List<TreeMap<Long, Integer>> slices;

  Assignment(int layerCount) {
    slices = new ArrayList<>(layerCount);
    for (int l = 0; l < layerCount; l++) {
      slices.add(new TreeMap<>(PlanningProblem::compareMasks));
    }
  }

  private Assignment(List<TreeMap<Long, Integer>> slices) {
    this.slices = slices;
  }

  Assignment copy() {
    List<TreeMap<Long, Integer>> c = new ArrayList<>(slices.size());
    for (TreeMap<Long, Integer> m : slices) {
      c.add(new TreeMap<>(m));
    }
    return new Assignment(c);
  }

  int layerCount() {
    return slices.size();
  }

  /** Slices of {@code layer}, mask to units, in mask order. */
  Map<Long, Integer> slices(int layer) {
    return java.util.Collections.unmodifiableMap(slices.get(layer));
  }

  int assignedUnits(int layer) {
    return slices.get(layer).values().stream().mapToInt(Integer::intValue).sum();
  }

  void add(int layer, long mask, int units) {
    slices.get(layer).merge(mask, units, Integer::sum);
  }

  /** Takes {@code units} of {@code layer} from {@code from} and gives them to {@code to}. */
  void move(int layer, long from, long to, int units) {
    TreeMap<Long, Integer> m = slices.get(layer);
    int left = m.get(from) - units;
    if (left < 0) {
      throw new IllegalStateException("layer " + layer + " slice holds fewer than " + units + " units");
    }
    if (left == 0) {
      m.remove(from);
    } else {
      m.put(from, left);
    }
    add(layer, to, units);
  }

  /** A copy in which every slice held by {@code from} is held by {@code to} instead. */
  Assignment reassigned(long from, long to) {
    Assignment c = copy();
    for (int l = 0; l < slices.size(); l++) {
      Integer u = slices.get(l).get(from);
      if (u != null) {
        c.move(l, from, to, u);
      }
    }
    return c;
  }

  /** The distinct updater masks, in mask order. */
  List<Long> masks() {
    java.util.TreeSet<Long> all = new java.util.TreeSet<>(PlanningProblem::compareMasks);
    slices.forEach(m -> all.addAll(m.keySet()));
    return List.copyOf(all);
  }

  /** Per-layer channel fractions {@code device} updates. */
  double[] fractionsOf(int device, int[] layerUnits) {
    double[] f = new double[slices.size()];
    long bit = 1L << device;
    for (int l = 0; l < f.length; l++) {
      int u = 0;
      for (Map.Entry<Long, Integer> e : slices.get(l).entrySet()) {
        if ((e.getKey() & bit) != 0) {
          u += e.getValue();
        }
      }
      f[l] = u == layerUnits[l] ? 1.0 : (double) u / layerUnits[l];
    }
    return f;
  }
}
