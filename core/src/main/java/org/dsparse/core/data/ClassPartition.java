package org.dsparse.core.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Which classes each device holds: a camera sees some classes and not others. Each device's samples
 * are those of its classes, a class's samples split evenly (seeded) among the devices that hold it,
 * so every sample goes to exactly one device, and every class must be held by at least one.
 *
 * @param classes number of classes of the dataset
 * @param held each device's classes, ascending
 */
public record ClassPartition(int classes, List<int[]> held) {
  public ClassPartition {
    if (classes < 1) {
      throw new IllegalArgumentException("a class partition needs at least one class, got " + classes);
    }
    List<int[]> copy = new ArrayList<>();
    boolean[] covered = new boolean[classes];
    for (int d = 0; d < held.size(); d++) {
      int[] sorted = held.get(d).clone();
      Arrays.sort(sorted);
      if (sorted.length == 0) {
        throw new IllegalArgumentException("device " + d + " holds no class");
      }
      for (int i = 0; i < sorted.length; i++) {
        if (sorted[i] < 0 || sorted[i] >= classes) {
          throw new IllegalArgumentException("device " + d + " holds class " + sorted[i] + ", the dataset has classes 0-"
              + (classes - 1));
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
          throw new IllegalArgumentException("device " + d + " lists class " + sorted[i] + " twice");
        }
        covered[sorted[i]] = true;
      }
      copy.add(sorted);
    }
    if (copy.isEmpty()) {
      throw new IllegalArgumentException("a class partition needs at least one device");
    }
    for (int c = 0; c < classes; c++) {
      if (!covered[c]) {
        throw new IllegalArgumentException("class " + c + " is held by no device: no device could learn it");
      }
    }
    held = List.copyOf(copy);
  }

  /** Explicit lists, one per device. */
  public static ClassPartition of(int classes, List<int[]> held) {
    return new ClassPartition(classes, held);
  }

  /**
   * A label skew: each device holds between {@code min} and {@code max} classes (drawn from the
   * seed), every class on at least one device. The classes no device holds yet go first, to the
   * devices with room, then each device fills up with classes drawn at random.
   */
  public static ClassPartition skewed(int classes, int devices, int min, int max, long seed) {
    if (devices < 1 || min < 1 || max < min || max > classes) {
      throw new IllegalArgumentException("a label skew of " + min + "-" + max + " classes per device over " + devices
          + " devices and " + classes + " classes: need 1 <= min <= max <= classes");
    }
    if ((long) devices * max < classes) {
      throw new IllegalArgumentException(devices + " devices of at most " + max + " classes cannot hold all " + classes
          + " classes");
    }
    SplittableRandom random = new SplittableRandom(seed);
    int[] sizes = new int[devices];
    int total = 0;
    for (int d = 0; d < devices; d++) {
      sizes[d] = min + random.nextInt(max - min + 1);
      total += sizes[d];
    }
    // Too few places for every class: grow devices below max until there are enough.
    for (int d = 0; total < classes; d = (d + 1) % devices) {
      if (sizes[d] < max) {
        sizes[d]++;
        total++;
      }
    }
    List<TreeSet<Integer>> sets = new ArrayList<>();
    for (int d = 0; d < devices; d++) {
      sets.add(new TreeSet<>());
    }
    int[] order = shuffled(classes, random);
    int device = 0;
    for (int c : order) {
      while (sets.get(device).size() >= sizes[device]) {
        device = (device + 1) % devices;
      }
      sets.get(device).add(c);
      device = (device + 1) % devices;
    }
    for (int d = 0; d < devices; d++) {
      int[] candidates = shuffled(classes, random);
      for (int i = 0; sets.get(d).size() < sizes[d]; i++) {
        sets.get(d).add(candidates[i]);
      }
    }
    return new ClassPartition(classes, sets.stream().map(s -> s.stream().mapToInt(Integer::intValue).toArray())
        .toList());
  }

  private static int[] shuffled(int n, SplittableRandom random) {
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  public int devices() {
    return held.size();
  }

  /** Whether {@code device} holds class {@code c}. */
  public boolean holds(int device, int c) {
    return Arrays.binarySearch(held.get(device), c) >= 0;
  }

  /** The devices holding class {@code c}, ascending. */
  public int[] holders(int c) {
    List<Integer> devices = new ArrayList<>();
    for (int d = 0; d < held.size(); d++) {
      if (holds(d, c)) {
        devices.add(d);
      }
    }
    return devices.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Each device's sample indices (ascending): every class's samples in a seeded order, cut into
   * near-equal runs, one per device holding it.
   */
  public int[][] samples(int[] labels, long seed) {
    List<List<Integer>> byClass = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      byClass.add(new ArrayList<>());
    }
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        throw new IllegalArgumentException("sample " + i + " has label " + labels[i] + ", the partition has " + classes
            + " classes");
      }
      byClass.get(labels[i]).add(i);
    }
    List<List<Integer>> shards = new ArrayList<>();
    for (int d = 0; d < held.size(); d++) {
      shards.add(new ArrayList<>());
    }
    for (int c = 0; c < classes; c++) {
      List<Integer> samples = byClass.get(c);
      int[] order = EpochOrder.permutation(samples.size(), EpochOrder.mix(seed, c), 0);
      int[] holders = holders(c);
      for (int k = 0; k < order.length; k++) {
        shards.get(holders[(int) ((long) k * holders.length / order.length)]).add(samples.get(order[k]));
      }
    }
    int[][] result = new int[held.size()][];
    for (int d = 0; d < result.length; d++) {
      result[d] = shards.get(d).stream().mapToInt(Integer::intValue).sorted().toArray();
    }
    return result;
  }

  /** One line per device: its classes. */
  public String describe(List<String> devices) {
    StringBuilder out = new StringBuilder();
    for (int d = 0; d < held.size(); d++) {
      out.append(d < devices.size() ? devices.get(d) : "device " + d).append(": classes ")
          .append(Arrays.toString(held.get(d))).append('\n');
    }
    return out.toString();
  }
}
