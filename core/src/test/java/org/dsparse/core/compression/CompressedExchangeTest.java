package org.dsparse.core.compression;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * gs-SGD and Top-k among three members, the collectives done in memory as the ring computes them
 * (a mean is a sum divided by the members; an AllGather a concatenation in rank order).
 */
class CompressedExchangeTest {
  private static final int MEMBERS = 3;

  private static float[] mean(List<float[]> contributions) {
    float[] sum = new float[contributions.get(0).length];
    for (float[] c : contributions) {
      for (int i = 0; i < sum.length; i++) {
        sum[i] += c[i];
      }
    }
    for (int i = 0; i < sum.length; i++) {
      sum[i] /= contributions.size();
    }
    return sum;
  }

  /** Integer-valued gradients: every sum below is exact, so the accounting holds bit for bit. */
  private static float[] gradient(Random random, int d) {
    float[] g = new float[d];
    for (int i = 0; i < d; i++) {
      g[i] = random.nextInt(9) - 4;
    }
    for (int i = 0; i < 20; i++) {
      g[random.nextInt(d)] = random.nextInt(2001) - 1000;
    }
    return g;
  }

  @Test
  void gsSgdGivesEveryMemberTheSameUpdateAndKeepsExactlyWhatWasNotSent() {
    int d = 40_000;
    Compression settings = new Compression(Compression.Kind.SKETCH, 40, 3, 0, 0);
    List<SketchedGradients> members = new ArrayList<>();
    for (int m = 0; m < MEMBERS; m++) {
      members.add(new SketchedGradients(d, settings, MEMBERS));
    }
    Random random = new Random(5);
    float[][] sentTotal = new float[MEMBERS][d];
    float[][] gradientTotal = new float[MEMBERS][d];
    // Two regions, as a backward cut in two segments would give.
    int[][] regions = {{0, 25_000}, {25_000, 15_000}};
    for (int step = 0; step < 4; step++) {
      for (int[] region : regions) {
        int offset = region[0];
        int length = region[1];
        Compression.Sizes sizes = members.get(0).sizes(length);
        assertTrue(sizes.compressed());
        assertTrue(sizes.floatsSentPerMember(length, MEMBERS) * 40 <= 2.0 * (MEMBERS - 1) / MEMBERS * length + 1e-6);
        long seed = 1000L * step + offset;
        List<float[]> sketches = new ArrayList<>();
        for (int m = 0; m < MEMBERS; m++) {
          float[] g = gradient(random, length);
          for (int i = 0; i < length; i++) {
            gradientTotal[m][offset + i] += g[i];
          }
          sketches.add(members.get(m).sketch(offset, g, sizes, seed));
        }
        float[] table = mean(sketches);
        List<int[]> candidates = new ArrayList<>();
        List<float[]> values = new ArrayList<>();
        for (int m = 0; m < MEMBERS; m++) {
          candidates.add(members.get(m).candidates(offset, length, table.clone(), sizes, seed));
          values.add(members.get(m).values(candidates.get(m)));
          for (int j = 0; j < candidates.get(m).length; j++) {
            sentTotal[m][candidates.get(m)[j]] += values.get(m)[j];
          }
        }
        for (int m = 1; m < MEMBERS; m++) {
          assertArrayEquals(candidates.get(0), candidates.get(m), "member " + m + " recovered other coordinates");
        }
        assertEquals(sizes.k(), candidates.get(0).length);
        float[] averaged = mean(values);
        float[] update = SketchedGradients.expand(offset, length, candidates.get(0), averaged);
        for (int m = 1; m < MEMBERS; m++) {
          assertArrayEquals(update, SketchedGradients.expand(offset, length, candidates.get(m), averaged));
        }
      }
    }
    for (int m = 0; m < MEMBERS; m++) {
      float[] residual = members.get(m).residual().values();
      for (int i = 0; i < d; i++) {
        assertEquals(gradientTotal[m][i], sentTotal[m][i] + residual[i], "member " + m + " coordinate " + i);
      }
    }
  }

  @Test
  void theSketchFindsTheGroupsHeavyCoordinatesNotJustOneMembers() {
    // A coordinate large in the mean but spread over the members, against one large on one member
    // only and cancelled by another: gs-SGD selects by the global sum.
    int d = 30_000;
    Compression settings = new Compression(Compression.Kind.SKETCH, 100, 3, 0, 0);
    Random random = new Random(6);
    float[][] g = new float[MEMBERS][d];
    for (int m = 0; m < MEMBERS; m++) {
      for (int i = 0; i < d; i++) {
        g[m][i] = (float) (random.nextGaussian() * 0.01);
      }
      g[m][123] = 5; // global: 15 in the sum
    }
    g[0][456] = 8;
    g[1][456] = -8; // cancels
    Compression.Sizes sizes = settings.plan(d, MEMBERS);
    List<float[]> sketches = new ArrayList<>();
    List<SketchedGradients> members = new ArrayList<>();
    for (int m = 0; m < MEMBERS; m++) {
      members.add(new SketchedGradients(d, settings, MEMBERS));
      sketches.add(members.get(m).sketch(0, g[m], sizes, 9));
    }
    float[] table = mean(sketches);
    int[] chosen = members.get(0).candidates(0, d, table.clone(), sizes, 9);
    assertTrue(java.util.Arrays.binarySearch(chosen, 123) >= 0);
    CountSketch global = CountSketch.over(table, sizes.rows(), sizes.columns(), 9);
    assertEquals(5, global.estimate(123), 0.5);
    assertEquals(0, global.estimate(456), 0.5);
  }

  @Test
  void topKGivesEveryMemberTheSameMeanAndKeepsExactlyWhatWasNotSent() {
    int d = 20_000;
    Compression settings = new Compression(Compression.Kind.TOPK, 25, 1, 0, 0);
    List<TopKGradients> members = new ArrayList<>();
    for (int m = 0; m < MEMBERS; m++) {
      members.add(new TopKGradients(d, settings, MEMBERS));
    }
    Random random = new Random(7);
    float[][] gradientTotal = new float[MEMBERS][d];
    float[][] sentTotal = new float[MEMBERS][d];
    for (int step = 0; step < 3; step++) {
      Compression.Sizes sizes = members.get(0).sizes(d);
      int k = sizes.k();
      float[] gathered = new float[MEMBERS * 2 * k];
      for (int m = 0; m < MEMBERS; m++) {
        float[] g = gradient(random, d);
        for (int i = 0; i < d; i++) {
          gradientTotal[m][i] += g[i];
        }
        float[] part = members.get(m).select(0, g, sizes);
        System.arraycopy(part, 0, gathered, m * 2 * k, 2 * k);
        for (int j = 0; j < k; j++) {
          sentTotal[m][Float.floatToRawIntBits(part[j])] += part[k + j];
        }
      }
      float[] update = TopKGradients.expand(d, gathered, MEMBERS, k);
      for (int m = 1; m < MEMBERS; m++) {
        assertArrayEquals(update, TopKGradients.expand(d, gathered.clone(), MEMBERS, k));
      }
    }
    for (int m = 0; m < MEMBERS; m++) {
      for (int i = 0; i < d; i++) {
        assertEquals(gradientTotal[m][i], sentTotal[m][i] + members.get(m).residual().get(i));
      }
    }
  }

  @Test
  void aCompressorThatCannotReachItsRatioSaysSoAndStaysDense() {
    Compression sketch = new Compression(Compression.Kind.SKETCH, 50, 5, 4_000, 0);
    Compression.Sizes tooBig = sketch.plan(100_000, 3);
    assertFalse(tooBig.compressed());
    assertTrue(tooBig.denseBecause().contains("5 x 4000 sketch"), tooBig.denseBecause());
    Compression topk = new Compression(Compression.Kind.TOPK, 50, 1, 0, 0);
    assertTrue(topk.plan(100, 7).denseBecause().contains("under one coordinate"));
    Compression small = new Compression(Compression.Kind.TOPK, 50, 1, 0, 65_536);
    assertTrue(small.plan(10_000, 2).denseBecause().contains("below min-floats"));
    // Reached: the bytes each member sends are the ratio below the dense ring's.
    Compression.Sizes sizes = topk.plan(3_500_000, 7);
    double dense = Compression.NONE.plan(3_500_000, 7).floatsSentPerMember(3_500_000, 7);
    assertEquals(50, dense / sizes.floatsSentPerMember(3_500_000, 7), 0.1);
    Compression.Sizes sketched = new Compression(Compression.Kind.SKETCH, 50, 3, 0, 0).plan(3_500_000, 7);
    assertEquals(50, dense / sketched.floatsSentPerMember(3_500_000, 7), 0.1);
  }
}
