package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.dsparse.core.collective.OverlapScheduler.SegmentTimes;
import org.junit.jupiter.api.Test;

class DynamicDecompositionTest {
  private static final double[] BACKWARD = {0.03, 0.01, 0.025, 0.02, 0.005, 0.02, 0.015};
  private static final long[] BYTES = {40_000, 120_000, 10_000, 300_000, 80_000, 500_000, 60_000};

  /** What a device whose layers and link behave exactly as modelled measures of a step cut at {@code cuts}. */
  private static SegmentTimes measure(double[] backward, long[] bytes, double rate, double latency, List<Integer> cuts) {
    int segments = cuts.size() + 1;
    double[] seconds = new double[segments];
    long[] segmentBytes = new long[segments];
    double[] transfer = new double[segments];
    for (int s = 0; s < segments; s++) {
      int low = s == 0 ? 0 : cuts.get(s - 1);
      int high = s == cuts.size() ? backward.length : cuts.get(s);
      for (int layer = low; layer < high; layer++) {
        seconds[s] += backward[layer];
        segmentBytes[s] += bytes[layer];
      }
      transfer[s] = segmentBytes[s] > 0 ? latency + segmentBytes[s] / rate : 0;
    }
    return new SegmentTimes(cuts, seconds, segmentBytes, transfer);
  }

  @Test
  void profilesEveryLayerAfterTheWarmUpStepAndAtItsInterval() {
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("a", BYTES), 32, 10);
    assertEquals(List.of(), schedule.cutsFor(0), "the warm-up step is not cut");
    assertEquals(List.of(1, 2, 3, 4, 5, 6), schedule.cutsFor(1));
    assertEquals(List.of(), schedule.cutsFor(2), "nothing measured yet: no cut");
    assertEquals(List.of(1, 2, 3, 4, 5, 6), schedule.cutsFor(21));
    assertEquals(List.of(1, 2, 3, 4, 5, 6), new DynamicDecomposition(Map.of("a", BYTES), 32, 0).cutsFor(1));
    assertEquals(List.of(), new DynamicDecomposition(Map.of("a", BYTES), 32, 0).cutsFor(21));
    // What the warm-up step measures does not count: ten times slower, it would choose other cuts.
    double[] slow = BACKWARD.clone();
    for (int i = 0; i < slow.length; i++) {
      slow[i] *= 10;
    }
    DynamicDecomposition warm = new DynamicDecomposition(Map.of("a", BYTES), 32, 0);
    assertEquals(java.util.Optional.empty(), warm.observe(0, Map.of("a", measure(slow, BYTES, 3e6, 0.002, List.of()))));
    warm.observe(1, Map.of("a", measure(BACKWARD, BYTES, 3e6, 0.002, warm.cutsFor(1))));
    assertEquals(OverlapCuts.fastest(BACKWARD, BYTES, 3e6, 0.002, 32).cuts(), warm.cutsFor(2));
  }

  @Test
  void afterTheProfileTheCutsAreTheBestForTheMeasuredLayersAndLink() {
    double rate = 10e6;
    double latency = 0.002;
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("a", BYTES), 32, 0);
    Optional<String> changed = schedule.observe(1, Map.of("a", measure(BACKWARD, BYTES, rate, latency, schedule.cutsFor(1))));
    List<Integer> best = OverlapCuts.fastest(BACKWARD, BYTES, rate, latency, 32).cuts();
    assertFalse(best.isEmpty(), "the example is one where cutting pays");
    assertTrue(changed.isPresent());
    assertTrue(changed.get().contains(best.toString()), changed.get());
    assertEquals(best, schedule.cutsFor(2));
  }

  @Test
  void aLinkWhoseLatencyOutweighsTheBackwardIsNotCut() {
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("a", BYTES), 32, 0);
    assertEquals(Optional.empty(), schedule.observe(1, Map.of("a", measure(BACKWARD, BYTES, 1e9, 0.5, schedule.cutsFor(1)))));
    assertEquals(List.of(), schedule.cutsFor(2));
  }

  @Test
  void theSlowestDeviceDecides() {
    double[] slowBackward = BACKWARD.clone();
    for (int i = 0; i < slowBackward.length; i++) {
      slowBackward[i] *= 4;
    }
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("fast", BYTES, "slow", BYTES), 32, 0);
    List<Integer> profile = schedule.cutsFor(1);
    schedule.observe(1, Map.of("fast", measure(BACKWARD, BYTES, 10e6, 0.002, profile),
        "slow", measure(slowBackward, BYTES, 10e6, 0.002, profile)));
    assertEquals(OverlapCuts.fastest(slowBackward, BYTES, 10e6, 0.002, 32).cuts(), schedule.cutsFor(2));
  }

  @Test
  void theScheduleFollowsALinkThatSlowsDownWithoutAnotherProfile() {
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("a", BYTES), 32, 0);
    schedule.observe(1, Map.of("a", measure(BACKWARD, BYTES, 1e9, 0.05, schedule.cutsFor(1))));
    assertEquals(List.of(), schedule.cutsFor(2), "a fast link with a long latency: no cut");
    // The link becomes a hundred times slower, with a short latency: cutting now pays.
    boolean moved = false;
    for (long step = 2; step < 40 && !moved; step++) {
      moved = schedule.observe(step, Map.of("a", measure(BACKWARD, BYTES, 10e6, 0.002, schedule.cutsFor(step))))
          .isPresent();
    }
    assertTrue(moved, "the schedule moved within 40 steps");
    assertNotEquals(List.of(), schedule.cutsFor(41));
  }

  @Test
  void segmentTimesMoveTheEstimatesOfTheirLayers() {
    double rate = 3e6;
    double latency = 0.002;
    DynamicDecomposition schedule = new DynamicDecomposition(Map.of("a", BYTES), 32, 0);
    schedule.observe(1, Map.of("a", measure(BACKWARD, BYTES, rate, latency, schedule.cutsFor(1))));
    List<Integer> cuts = schedule.cutsFor(2);
    // The backward becomes five times slower: the transfers can now hide behind it, in other segments.
    double[] slower = BACKWARD.clone();
    for (int i = 0; i < slower.length; i++) {
      slower[i] *= 5;
    }
    List<Integer> best = OverlapCuts.fastest(slower, BYTES, rate, latency, 32).cuts();
    double bestEnds = OverlapCuts.lastTransferEnds(slower, BYTES, rate, latency, best);
    assertTrue(OverlapCuts.lastTransferEnds(slower, BYTES, rate, latency, cuts) > bestEnds * 1.1,
        "the first cuts " + cuts + " are clearly worse for the slower backward than " + best);
    for (long step = 2; step < 20; step++) {
      schedule.observe(step, Map.of("a", measure(slower, BYTES, rate, latency, schedule.cutsFor(step))));
    }
    double ends = OverlapCuts.lastTransferEnds(slower, BYTES, rate, latency, schedule.cutsFor(20));
    assertTrue(ends <= bestEnds * 1.05, "cuts " + schedule.cutsFor(20) + " end at " + ends + ", the best "
        + best + " at " + bestEnds);
  }
}
