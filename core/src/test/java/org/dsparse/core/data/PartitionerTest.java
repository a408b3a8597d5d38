package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PartitionerTest {
  private static final int CLASSES = 10;
  private static final int[] LABELS = balancedLabels(5000);

  private static int[] balancedLabels(int size) {
    int[] labels = new int[size];
    SplittableRandom random = new SplittableRandom(3);
    for (int i = 0; i < size; i++) {
      labels[i] = random.nextInt(CLASSES);
    }
    return labels;
  }

  /** Every index in [0, size) appears in exactly one shard, and shards are ascending. */
  private static void assertExactCover(int[][] shards, int size) {
    int[] seen = new int[size];
    for (int[] shard : shards) {
      for (int i = 1; i < shard.length; i++) {
        assertTrue(shard[i - 1] < shard[i], "shard not ascending");
      }
      for (int index : shard) {
        seen[index]++;
      }
    }
    int[] once = new int[size];
    Arrays.fill(once, 1);
    assertArrayEquals(once, seen);
  }

  /**
   * Mean over devices of the total-variation distance between the device's label distribution
   * and the whole dataset's: 0 for perfectly IID shards, near 1 when each device has other classes.
   */
  private static double labelSkew(int[][] shards) {
    int[][] histogram = Partitioner.labelHistogram(shards, LABELS, CLASSES);
    int[] global = new int[CLASSES];
    for (int label : LABELS) {
      global[label]++;
    }
    double total = 0;
    for (int[] device : histogram) {
      int size = Arrays.stream(device).sum();
      double distance = 0;
      for (int c = 0; c < CLASSES; c++) {
        distance += Math.abs((double) device[c] / size - (double) global[c] / LABELS.length);
      }
      total += distance / 2;
    }
    return total / histogram.length;
  }

  @Test
  void iidCoversEveryIndexOnceInNearlyEqualShards() {
    int[][] shards = Partitioner.iid(1003, 7, 11);
    assertExactCover(shards, 1003);
    for (int[] shard : shards) {
      assertTrue(shard.length == 143 || shard.length == 144, "shard of " + shard.length);
    }
  }

  @Test
  void iidDependsOnlyOnTheSeed() {
    assertTrue(Arrays.deepEquals(Partitioner.iid(500, 4, 1), Partitioner.iid(500, 4, 1)));
    assertFalse(Arrays.deepEquals(Partitioner.iid(500, 4, 1), Partitioner.iid(500, 4, 2)));
  }

  @Test
  void dirichletCoversEveryIndexOnceAndIsDeterministic() {
    for (double alpha : new double[] {0.05, 0.5, 5}) {
      int[][] shards = Partitioner.dirichlet(LABELS, CLASSES, 8, alpha, 42);
      assertExactCover(shards, LABELS.length);
      assertTrue(Arrays.deepEquals(shards, Partitioner.dirichlet(LABELS, CLASSES, 8, alpha, 42)));
      assertFalse(Arrays.deepEquals(shards, Partitioner.dirichlet(LABELS, CLASSES, 8, alpha, 43)));
    }
  }

  @Test
  void labelSkewGrowsAsAlphaShrinks() {
    double[] alphas = {1000, 10, 1, 0.1, 0.01};
    double previous = -1;
    for (double alpha : alphas) {
      double skew = 0;
      for (long seed = 0; seed < 5; seed++) {
        skew += labelSkew(Partitioner.dirichlet(LABELS, CLASSES, 10, alpha, seed)) / 5;
      }
      assertTrue(skew > previous, "skew " + skew + " at alpha " + alpha + " is not above " + previous);
      previous = skew;
    }
    assertTrue(labelSkew(Partitioner.dirichlet(LABELS, CLASSES, 10, 1000, 0)) < 0.05, "large alpha is near IID");
    assertTrue(labelSkew(Partitioner.dirichlet(LABELS, CLASSES, 10, 0.01, 0)) > 0.7, "tiny alpha is near one class each");
  }

  @Test
  void noDeviceIsLeftEmptyWhenThereAreEnoughSamples() {
    int[] fewLabels = Arrays.copyOf(LABELS, 40);
    for (long seed = 0; seed < 20; seed++) {
      int[][] shards = Partitioner.dirichlet(fewLabels, CLASSES, 30, 0.01, seed);
      assertExactCover(shards, 40);
      for (int[] shard : shards) {
        assertTrue(shard.length > 0, "empty device with seed " + seed);
      }
    }
  }

  @Test
  void fewerSamplesThanDevicesStillAssignsEverySample() {
    int[][] shards = Partitioner.dirichlet(new int[] {0, 1, 2}, CLASSES, 5, 0.5, 1);
    assertExactCover(shards, 3);
    assertEquals(3, Arrays.stream(shards).filter(s -> s.length == 1).count());
  }

  @Test
  void apportionKeepsTheTotal() {
    assertArrayEquals(new int[] {4, 3, 3}, Partitioner.apportion(new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0}, 10));
    assertArrayEquals(new int[] {0, 7}, Partitioner.apportion(new double[] {0.01, 0.99}, 7));
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> Partitioner.iid(10, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> Partitioner.dirichlet(LABELS, CLASSES, 3, 0, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Partitioner.dirichlet(new int[] {0, 10}, CLASSES, 3, 1, 1));
    assertTrue(e.getMessage().contains("label 10 of sample 1"), e.getMessage());
  }
}
