package org.dsparse.actors.mode.dataparallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Preparation;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
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

  /** Device {@code device} of the four, in a job of {@code spec} with {@link #GROUPS}. */
  private static Preparation preparation(JobSpec spec, String device) {
    List<DeviceInfo> devices = List.of("a", "b", "c", "d").stream()
        .map(name -> new DeviceInfo(name, "pekko://dsparse@127.0.0.1:2552", 1_000_000, null)).toList();
    return new Preparation(spec, devices, device, new Assignment(device, List.of(), 0), GROUPS, null, false, null,
        null);
  }

  @Test
  void aLayerLearntFromFewerDevicesStepsBySqrtOfItsShare() {
    JobSpec scaled = spec("dsparse", "sqrt-updater-share");
    assertEquals(Map.of(0, 0.5, 1, 0.5), DataParallelMode.DSPARSE.learningRateScales(preparation(scaled, "a")));
    assertEquals(Map.of(2, Math.sqrt(0.5)), DataParallelMode.DSPARSE.learningRateScales(preparation(scaled, "b")));
    assertEquals(Map.of(), DataParallelMode.DSPARSE.learningRateScales(preparation(scaled, "d")));
  }

  @Test
  void aTileGroupsLayersLearnFromOneBatchAsOneDevicesDo() {
    JobSpec scaled = spec("dsparse", "sqrt-updater-share");
    assertEquals(Map.of(2, 0.5), Plans.learningRateScales(scaled, GROUPS, "b", 4, Set.of("tail")));
  }

  @Test
  void withoutScalingOrInAFullUpdateEveryLayerKeepsTheRate() {
    assertEquals(Map.of(), DataParallelMode.DSPARSE.learningRateScales(preparation(spec("dsparse", "none"), "a")));
    JobSpec full = spec("full", "sqrt-updater-share");
    assertEquals(Map.of(), DataParallelMode.FULL.learningRateScales(preparation(full, "a")));
    assertEquals(0.5, full.learningRateScale(1, 4));
    assertThrows(IllegalArgumentException.class, () -> spec("dsparse", "none").learningRateScale(5, 4));
  }
}
