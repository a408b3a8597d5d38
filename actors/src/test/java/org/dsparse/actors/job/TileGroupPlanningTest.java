package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/**
 * How the plan takes in a tile group: who is in it and who heads it, the tiled layers left out of
 * DSparse's plan and given to the tile group's own group, the head's budget less its tile, and the
 * errors a user can make.
 */
class TileGroupPlanningTest {
  private static final Config BASE = ConfigFactory.parseString("""
      dsparse.job { model = mobilenetv2, mode = dsparse, batch = 16, id = t, checkpoint-dir = "" }
      """).withFallback(ConfigFactory.load());

  private static JobSpec spec(String tiling) {
    return JobConfig.read(ConfigFactory.parseString("dsparse.job.tiling { " + tiling + " }").withFallback(BASE))
        .spec();
  }

  private static DeviceInfo device(String name, long mib) {
    return new DeviceInfo(name, "pekko://dsparse@127.0.0.1:" + (2600 + name.charAt(0)), mib << 20, null);
  }

  private static final List<DeviceInfo> DEVICES = List.of(device("big", 4096), device("mid", 1024),
      device("pi-a", 400), device("pi-b", 300), device("pi-c", 300));

  private static PlannedJob plan(JobSpec spec, List<DeviceInfo> devices) {
    return DjlThread.call(() -> JobPlanning.plan(spec, devices, BASE));
  }

  @Test
  void theSmallestDevicesShareTheEarlyLayersAndTheLargestOfThemHeadsTheGroup() {
    PlannedJob plan = plan(spec("count = 3, layers = 4"), DEVICES);
    GroupPlan tiles = plan.groups().get(0);
    assertEquals("tiles", tiles.groupId());
    assertEquals(List.of("pi-a", "pi-b", "pi-c"), tiles.updaters(), "the head (most memory) first, then by name");
    assertEquals(List.of(0, 1, 2, 3), tiles.layers());
    assertEquals("pi-a", tiles.owner(), "the head refreshes the tiled layers to the other devices");
    for (GroupPlan g : plan.groups().subList(1, plan.groups().size())) {
      assertTrue(g.layers().stream().allMatch(l -> l >= 4), "DSparse's group " + g + " holds a tiled layer");
      assertTrue(g.updaters().stream().noneMatch(d -> d.equals("pi-b") || d.equals("pi-c")), g.toString());
    }
    Assignment head = plan.assignments().get("pi-a");
    assertEquals(List.of(0, 1, 2, 3), head.updatedLayers().subList(0, 4));
    assertEquals(3, head.tile().members().size());
    assertEquals(head.tile(), plan.assignments().get("pi-c").tile());
    assertEquals(List.of(0, 1, 2, 3), plan.assignments().get("pi-c").updatedLayers());
    assertEquals(4, head.tile().tiledLayers());
    assertEquals(3, head.tile().rows() * head.tile().columns());
    for (DeviceInfo d : DEVICES) {
      assertTrue(plan.assignments().get(d.name()).predictedPeakBytes() <= d.budgetBytes(), d.name() + " over budget");
    }
    assertTrue(plan.description().contains("tile group: layers 0-3") && plan.description().contains("fused groups"),
        plan.description());
  }

  @Test
  void namedMembersAndTheirLossAfterARePlan() {
    PlannedJob named = plan(spec("devices = [mid, pi-b], layers = 3"), DEVICES);
    assertEquals(List.of("mid", "pi-b"), named.groups().get(0).updaters());
    // A re-plan without pi-b leaves one named member: the plan goes on without tiling.
    PlannedJob without = plan(spec("devices = [mid, pi-b], layers = 3"), DEVICES.subList(0, 3));
    assertTrue(without.groups().stream().noneMatch(g -> g.groupId().equals("tiles")));
    assertTrue(without.assignments().values().stream().allMatch(a -> a.tile() == null));
  }

  @Test
  void mistakesAreNamed() {
    IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
        () -> plan(spec("count = 2, layers = 40"), DEVICES));
    assertTrue(tooMany.getMessage().contains("tiling.layers = 40"), tooMany.getMessage());
    IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class,
        () -> plan(spec("count = 2, layers = 8"), List.of(device("big", 4096), device("pi", 2048),
            device("tiny", 8))));
    assertTrue(tooSmall.getMessage().contains("device tiny cannot hold its tile"), tooSmall.getMessage());
  }

  @Test
  void aFixedGroupingFusesEveryNLayersAndThePlanSaysSo() {
    PlannedJob best = plan(spec("count = 4, layers = 7"), DEVICES.subList(1, 5));
    PlannedJob fixed = plan(spec("count = 4, layers = 7, grouping = fixed"), DEVICES.subList(1, 5));
    List<Integer> ends = fixed.assignments().get("mid").tile().groupEnds();
    int n = ends.get(0);
    for (int i = 0; i < ends.size(); i++) {
      assertEquals(Math.min(7, (i + 1) * n), ends.get(i), "groups of " + n + " layers, the last what is left: " + ends);
    }
    assertEquals(best.assignments().get("mid").tile().rows(), fixed.assignments().get("mid").tile().rows(),
        "the same grid: only the grouping is fixed");
    assertTrue(fixed.description().contains("tiling.grouping = fixed"), fixed.description());
    assertTrue(!best.description().contains("tiling.grouping = fixed"), best.description());
    RuntimeException e = assertThrows(RuntimeException.class, () -> spec("count = 4, layers = 7, grouping = every-2"));
    assertTrue(e.getMessage().contains("tiling.grouping"), e.getMessage());
  }
}
