package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class OverlapCutsTest {
  @Test
  void equalLayersAreCutIntoEqualSegments() {
    assertEquals(List.of(2, 4, 6), OverlapCuts.equalBytes(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, 4));
  }

  @Test
  void aHeavyLastLayerIsASegmentOfItsOwn() {
    // 100 of 106 bytes sit in the last layer: the other two segments share the rest equally.
    assertEquals(List.of(3, 5), OverlapCuts.equalBytes(new long[] {1, 1, 1, 1, 2, 100}, 3));
  }

  @Test
  void layersWithoutBytesNeverStartASegmentAndOneSegmentMeansNoCut() {
    assertEquals(List.of(3), OverlapCuts.equalBytes(new long[] {0, 0, 5, 5, 0}, 4));
    assertEquals(List.of(), OverlapCuts.equalBytes(new long[] {3, 3, 3}, 1));
    assertEquals(List.of(), OverlapCuts.equalBytes(new long[] {0, 0, 7}, 4));
    assertThrows(IllegalArgumentException.class, () -> OverlapCuts.equalBytes(new long[] {1}, 0));
  }

  @Test
  void oneSegmentWhenEveryTransferCostsMoreLatencyThanTheWholeBackward() {
    OverlapCuts.Schedule s = OverlapCuts.fastest(new double[] {0.01, 0.01, 0.01, 0.01}, new long[] {10, 10, 10, 10},
        1e9, 1, 4);
    assertEquals(List.of(), s.cuts());
    assertEquals(1.04, s.lastTransferEndsSeconds(), 1e-6);
  }

  @Test
  void aSegmentPerLayerWhenTransfersTakeAsLongAsTheBackwardAndCostNoLatency() {
    // Each layer: 1 s of backward, 1 s of transfer. Uncut: 4 + 4 = 8 s; one segment each: 5 s.
    OverlapCuts.Schedule s = OverlapCuts.fastest(new double[] {1, 1, 1, 1}, new long[] {1, 1, 1, 1}, 1, 0, 4);
    assertEquals(List.of(1, 2, 3), s.cuts());
    assertEquals(5, s.lastTransferEndsSeconds(), 1e-9);
  }

  @Test
  void theScheduleIsTheBestOfEveryWayToCutAndBeatsBothExtremes() {
    double[] backward = {0.3, 0.1, 0.25, 0.2, 0.05, 0.2, 0.15};
    long[] bytes = {40, 120, 10, 300, 80, 500, 60};
    double rate = 1000;
    double latency = 0.05;
    for (int maxSegments = 1; maxSegments <= 7; maxSegments++) {
      OverlapCuts.Schedule best = OverlapCuts.fastest(backward, bytes, rate, latency, maxSegments);
      double bruteForce = Double.POSITIVE_INFINITY;
      for (int mask = 0; mask < 1 << 6; mask++) {
        if (Integer.bitCount(mask) + 1 <= maxSegments) {
          bruteForce = Math.min(bruteForce, simulate(backward, bytes, rate, latency, mask));
        }
      }
      assertEquals(bruteForce, best.lastTransferEndsSeconds(), 1e-9, "at most " + maxSegments + " segments");
      assertEquals(best.lastTransferEndsSeconds(), simulate(backward, bytes, rate, latency, maskOf(best.cuts())), 1e-9);
    }
    double uncut = simulate(backward, bytes, rate, latency, 0);
    double perLayer = simulate(backward, bytes, rate, latency, (1 << 6) - 1);
    double best = OverlapCuts.fastest(backward, bytes, rate, latency, 7).lastTransferEndsSeconds();
    assertTrue(best < uncut && best < perLayer, best + " against " + uncut + " uncut and " + perLayer + " per layer");
  }

  @Test
  void lastTransferEndsIsTheSimulatedEndOfEveryWayToCut() {
    double[] backward = {0.3, 0.1, 0.25, 0.2, 0.05, 0.2, 0.15};
    long[] bytes = {40, 120, 10, 300, 80, 500, 60};
    for (int mask = 0; mask < 1 << 6; mask++) {
      List<Integer> cuts = new java.util.ArrayList<>();
      for (int c = 1; c < 7; c++) {
        if ((mask & (1 << (c - 1))) != 0) {
          cuts.add(c);
        }
      }
      assertEquals(simulate(backward, bytes, 1000, 0.05, mask),
          OverlapCuts.lastTransferEnds(backward, bytes, 1000, 0.05, cuts), 1e-12, "cuts " + cuts);
    }
  }

  @Test
  void everyLayerCutsBeforeEachLayerUpToTheMostSegments() {
    assertEquals(List.of(1, 2, 3), OverlapCuts.everyLayer(4, 32));
    assertEquals(List.of(), OverlapCuts.everyLayer(1, 32));
    List<Integer> spread = OverlapCuts.everyLayer(100, 4);
    assertEquals(List.of(25, 50, 75), spread);
  }

  /** Cuts as a mask: bit c-1 set = cut before layer c. */
  private static int maskOf(List<Integer> cuts) {
    int mask = 0;
    for (int c : cuts) {
      mask |= 1 << (c - 1);
    }
    return mask;
  }

  /** When the last transfer ends, the backward going down from the top layer, cut where {@code mask} says. */
  private static double simulate(double[] backward, long[] bytes, double rate, double latency, int mask) {
    double time = 0;
    double linkFree = 0;
    long pending = 0;
    for (int layer = backward.length - 1; layer >= 0; layer--) {
      time += backward[layer];
      pending += bytes[layer];
      boolean cutBelow = layer == 0 || (mask & (1 << (layer - 1))) != 0;
      if (cutBelow) {
        linkFree = Math.max(time, linkFree) + latency + pending / rate;
        pending = 0;
      }
    }
    return linkFree;
  }

  @Test
  void layersWithoutBytesNeverStartASegment() {
    OverlapCuts.Schedule s = OverlapCuts.fastest(new double[] {1, 1, 1, 1}, new long[] {1, 0, 1, 0}, 1, 0, 4);
    s.cuts().forEach(c -> assertTrue(c == 0 || new long[] {1, 0, 1, 0}[c] > 0, "cut at " + c + " of " + s));
  }
}
