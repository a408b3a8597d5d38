package org.dsparse.core.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Splits a dataset's sample indices across devices. Every index goes to exactly one device, each
 * device's indices are returned in ascending order, the result depends only on the inputs and the
 * seed, and no device is left empty unless there are fewer samples than devices.
 */
public final class Partitioner {
  private Partitioner() {}

  /**
   * Sets aside a seeded {@code fraction} of the samples (e.g. for pre-training a checkpoint) and
   * returns {@code [heldOut, rest]}, each ascending. The same seed gives the same split everywhere.
   */
  public static int[][] holdOut(int sampleCount, double fraction, long seed) {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new IllegalArgumentException("held-out fraction must be in [0, 1), got " + fraction);
    }
    int[] order = EpochOrder.permutation(sampleCount, EpochOrder.mix(seed, -1), 0);
    int held = (int) Math.round(sampleCount * fraction);
    int[] heldOut = Arrays.copyOfRange(order, 0, held);
    int[] rest = Arrays.copyOfRange(order, held, sampleCount);
    Arrays.sort(heldOut);
    Arrays.sort(rest);
    return new int[][] {heldOut, rest};
  }

  /** IID: a seeded shuffle cut into {@code devices} parts whose sizes differ by at most one. */
  public static int[][] iid(int sampleCount, int devices, long seed) {
    requirePositive(devices);
    if (sampleCount < 0) {
      throw new IllegalArgumentException("sample count must not be negative, got " + sampleCount);
    }
    int[] order = EpochOrder.permutation(sampleCount, seed, 0);
    int[][] shards = new int[devices][];
    int start = 0;
    for (int device = 0; device < devices; device++) {
      int size = sampleCount / devices + (device < sampleCount % devices ? 1 : 0);
      shards[device] = Arrays.copyOfRange(order, start, start + size);
      Arrays.sort(shards[device]);
      start += size;
    }
    return shards;
  }

  /**
   * Non-IID by label: for each class, the devices' shares of that class's samples are drawn from a
   * symmetric Dirichlet(alpha). Small alpha (e.g. 0.1) gives each device a few dominant classes;
   * large alpha (e.g. 100) approaches IID. Shares are rounded to whole samples by largest remainder.
   */
  public static int[][] dirichlet(int[] labels, int classes, int devices, double alpha, long seed) {
    requirePositive(devices);
    if (!(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IllegalArgumentException("Dirichlet alpha must be positive and finite, got " + alpha);
    }
    List<List<Integer>> assigned = new ArrayList<>(devices);
    for (int device = 0; device < devices; device++) {
      assigned.add(new ArrayList<>());
    }
    int[][] byClass = indicesByClass(labels, classes);
    GammaSampler gamma = new GammaSampler(new SplittableRandom(EpochOrder.mix(seed, -1)));
    for (int c = 0; c < classes; c++) {
      int[] members = byClass[c];
      EpochOrder.shuffle(members, new SplittableRandom(EpochOrder.mix(seed, c)));
      int[] counts = apportion(gamma.symmetricDirichlet(alpha, devices), members.length);
      int next = 0;
      for (int device = 0; device < devices; device++) {
        for (int k = 0; k < counts[device]; k++) {
          assigned.get(device).add(members[next++]);
        }
      }
    }
    fillEmptyDevices(assigned);
    int[][] shards = new int[devices][];
    for (int device = 0; device < devices; device++) {
      shards[device] = assigned.get(device).stream().mapToInt(Integer::intValue).sorted().toArray();
    }
    return shards;
  }

  /** {@code histogram[device][class]}: how many of each device's samples carry each label. */
  public static int[][] labelHistogram(int[][] shards, int[] labels, int classes) {
    int[][] histogram = new int[shards.length][classes];
    for (int device = 0; device < shards.length; device++) {
      for (int index : shards[device]) {
        histogram[device][labels[index]]++;
      }
    }
    return histogram;
  }

  private static int[][] indicesByClass(int[] labels, int classes) {
    if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, got " + classes);
    }
    int[] counts = new int[classes];
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside [0, " + classes + ")");
      }
      counts[labels[i]]++;
    }
    int[][] byClass = new int[classes][];
    for (int c = 0; c < classes; c++) {
      byClass[c] = new int[counts[c]];
    }
    int[] filled = new int[classes];
    for (int i = 0; i < labels.length; i++) {
      byClass[labels[i]][filled[labels[i]]++] = i;
    }
    return byClass;
  }

  /** Whole counts summing to {@code total}, proportional to {@code shares} (largest remainder, ties to the lower index). */
  static int[] apportion(double[] shares, int total) {
    int[] counts = new int[shares.length];
    double[] remainders = new double[shares.length];
    int given = 0;
    for (int i = 0; i < shares.length; i++) {
      double quota = shares[i] * total;
      counts[i] = (int) Math.floor(quota);
      remainders[i] = quota - counts[i];
      given += counts[i];
    }
    for (; given < total; given++) {
      int best = 0;
      for (int i = 1; i < shares.length; i++) {
        if (remainders[i] > remainders[best]) {
          best = i;
        }
      }
      counts[best]++;
      remainders[best] = -1;
    }
    return counts;
  }

  /**
   * A device with no data could not train at all, so each empty device takes the most recently
   * assigned sample of the currently largest device, as long as that device keeps at least one.
   */
  private static void fillEmptyDevices(List<List<Integer>> assigned) {
    for (List<Integer> empty : assigned) {
      if (!empty.isEmpty()) {
        continue;
      }
      List<Integer> largest = assigned.get(0);
      for (List<Integer> candidate : assigned) {
        if (candidate.size() > largest.size()) {
          largest = candidate;
        }
      }
      if (largest.size() < 2) {
        return;
      }
      empty.add(largest.remove(largest.size() - 1));
    }
  }

  private static void requirePositive(int devices) {
    if (devices <= 0) {
      throw new IllegalArgumentException("device count must be positive, got " + devices);
    }
  }
}
