package org.dsparse.core.data;

import java.util.SplittableRandom;

/**
 * The order in which a device visits its samples in each epoch: a permutation that depends only
 * on the seed and the epoch number, so two runs (or two training modes compared side by side)
 * see exactly the same batches.
 */
public final class EpochOrder {
  private EpochOrder() {}

  /** A permutation of {@code [0, size)} for this seed and epoch. */
  public static int[] permutation(int size, long seed, int epoch) {
    int[] order = new int[size];
    for (int i = 0; i < size; i++) {
      order[i] = i;
    }
    shuffle(order, new SplittableRandom(mix(seed, epoch)));
    return order;
  }

  /** Fisher-Yates shuffle in place. */
  static void shuffle(int[] values, SplittableRandom random) {
    for (int i = values.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int swap = values[i];
      values[i] = values[j];
      values[j] = swap;
    }
  }

  /** Distinct, well-spread seeds per (seed, stream) so epochs and devices do not share sequences. */
  static long mix(long seed, long stream) {
    long z = seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + 0x94D049BB133111EBL;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
