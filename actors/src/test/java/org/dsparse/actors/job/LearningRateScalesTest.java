package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.junit.jupiter.api.Test;

class LearningRateScalesTest {
  private static JobSpec spec(String mode, String scaling) {
    return JobConfig.read(ConfigFactory.parseString("dsparse.job { mode = " + mode + ", learning-rate-scaling = "
        + scaling + " }").withFallback(ConfigFactory.load()).resolve()).spec();
  }

  private static GroupPlan group(String id, List<String> updaters, int... layers) {
    List<GroupPlan.Slice> slices = java.util.Arrays.stream(layers).mapToObj(l -> new GroupPlan.Slice(l, 0, 8)).toList();
    return new GroupPlan(id, slices, updaters, updaters.get(0), 8L * layers.length, id);
  }

  /** Four devices: a owns the body alone, b and c share the tail, everyone the classifier. */
  private static final List<GroupPlan> GROUPS = List.of(
      group("body", List.of("a"), 0, 1),
      group("tail", List.of("b", "c"), 2),
      group("classifier", List.of("a", "b", "c", "d"), 3));

  @Test
  void aLayerLearntFromFewerDevicesStepsBySqrtOfItsShare() {
    JobSpec scaled = spec("dsparse", "sqrt-updater-share");
    assertEquals(Map.of(0, 0.5, 1, 0.5), JobPlanning.learningRateScales(scaled, GROUPS, "a", 4));
    assertEquals(Map.of(2, Math.sqrt(0.5)), JobPlanning.learningRateScales(scaled, GROUPS, "b", 4));
    assertEquals(Map.of(), JobPlanning.learningRateScales(scaled, GROUPS, "d", 4));
  }

  @Test
  void withoutScalingOrInAFullUpdateEveryLayerKeepsTheRate() {
    assertEquals(Map.of(), JobPlanning.learningRateScales(spec("dsparse", "none"), GROUPS, "a", 4));
    assertEquals(1.0, spec("full", "sqrt-updater-share").learningRateScale(1, 4));
    assertThrows(IllegalArgumentException.class, () -> spec("dsparse", "none").learningRateScale(5, 4));
  }
}
