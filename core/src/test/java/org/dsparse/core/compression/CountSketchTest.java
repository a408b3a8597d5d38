package org.dsparse.core.compression;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CountSketchTest {
  private static float[] noise(Random random, int d, double scale) {
    float[] v = new float[d];
    for (int i = 0; i < d; i++) {
      v[i] = (float) (random.nextGaussian() * scale);
    }
    return v;
  }

  @Test
  void aPlantedHeavyHitterIsAlwaysRecovered() {
    Random random = new Random(1);
    int d = 20_000;
    for (int trial = 0; trial < 200; trial++) {
      float[] v = noise(random, d, 0.01);
      double norm = Math.sqrt(dot(v, v));
      int planted = random.nextInt(d);
      // A heavy hitter in the sense the sketch promises: above its error bound, ||v||_2 / sqrt(c) times 3.
      int columns = 400;
      v[planted] = (float) ((random.nextBoolean() ? 1 : -1) * 3 * norm / Math.sqrt(columns) * 1.5);
      CountSketch sketch = new CountSketch(5, columns, trial);
      sketch.add(v, 0, d, 0);
      int[] top = sketch.heavyHitters(1, d);
      assertArrayEquals(new int[] {planted}, top, "trial " + trial);
    }
  }

  @Test
  void estimatesStayWithinTheSketchBound() {
    // c = 3 / eps^2 columns make one row's error exceed eps * ||v||_2 with probability at most 1/3
    // (Chebyshev); the median of 5 rows then fails with probability at most 0.21.
    Random random = new Random(2);
    int d = 50_000;
    double eps = 0.1;
    int columns = (int) Math.ceil(3 / (eps * eps));
    float[] v = noise(random, d, 1);
    for (int i = 0; i < 100; i++) {
      v[random.nextInt(d)] *= 50;
    }
    double bound = eps * Math.sqrt(dot(v, v));
    CountSketch sketch = new CountSketch(5, columns, 7);
    sketch.add(v, 0, d, 0);
    int outside = 0;
    for (int i = 0; i < d; i++) {
      if (Math.abs(sketch.estimate(i) - v[i]) > bound) {
        outside++;
      }
    }
    assertTrue(outside <= 0.21 * d, outside + " of " + d + " estimates outside " + bound);
  }

  @Test
  void mergingEqualsTheSketchOfTheSumAndAddingInPiecesEqualsAddingWhole() {
    Random random = new Random(3);
    int d = 10_000;
    // Small integers: every sum is exact, so equality is bit for bit.
    float[] a = new float[d];
    float[] b = new float[d];
    float[] sum = new float[d];
    for (int i = 0; i < d; i++) {
      a[i] = random.nextInt(21) - 10;
      b[i] = random.nextInt(21) - 10;
      sum[i] = a[i] + b[i];
    }
    CountSketch sa = new CountSketch(3, 257, 11);
    sa.add(a, 0, d, 0);
    CountSketch sb = new CountSketch(3, 257, 11);
    sb.add(b, 0, 4_000, 0);
    sb.add(b, 4_000, d - 4_000, 4_000);
    sa.merge(sb);
    CountSketch whole = new CountSketch(3, 257, 11);
    whole.add(sum, 0, d, 0);
    assertArrayEquals(whole.table(), sa.table());
    assertThrows(IllegalArgumentException.class, () -> sa.merge(new CountSketch(3, 257, 12)));
  }

  @Test
  void topKKeepsTheLargestMagnitudesAndBreaksTiesByIndex() {
    Random random = new Random(4);
    float[] v = new float[5_000];
    for (int i = 0; i < v.length; i++) {
      v[i] = random.nextInt(200) - 100; // many ties
    }
    int k = 300;
    Integer[] order = new Integer[v.length];
    for (int i = 0; i < v.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> Math.abs(v[x]) != Math.abs(v[y]) ? Float.compare(Math.abs(v[y]), Math.abs(v[x]))
        : Integer.compare(x, y));
    int[] expected = Arrays.stream(order).limit(k).mapToInt(Integer::intValue).sorted().toArray();
    assertArrayEquals(expected, TopK.ofMagnitudes(v, k));
    assertEquals(3, TopK.ofMagnitudes(new float[] {1, 2, 3}, 10).length);
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }
}
