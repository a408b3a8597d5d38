package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.junit.jupiter.api.Test;

/** Which state a re-planned job continues from, and which optimizer state survives the new plan. */
class RestorePointTest {
  private static final GroupPlan.Slice HEAD = GroupPlan.Slice.whole(3, 10);
  private static final GroupPlan.Slice BODY = GroupPlan.Slice.whole(2, 16);
  private static final GroupPlan.Slice HALF = new GroupPlan.Slice(1, 0, 8);

  private static DeviceEvent.HeldState held(long step, List<GroupPlan.Slice> slices) {
    return new DeviceEvent.HeldState(step, 0, (int) step, slices);
  }

  @Test
  void afterALostCoordinatorTheJobGoesOnFromTheLatestStateEveryDeviceHolds() {
    // a and b completed step 7 before they noticed; c stopped it: all hold 7, only a and b hold 8.
    var a = new DeviceEvent.Abandoned("a", held(7, List.of(HEAD)), held(8, List.of(HEAD)));
    var b = new DeviceEvent.Abandoned("b", held(7, List.of(BODY)), held(8, List.of(BODY)));
    var c = new DeviceEvent.Abandoned("c", held(7, List.of(HEAD)), null);
    RestorePoint point = RestorePoint.latest(List.of(c, b, a)).orElseThrow();
    assertEquals(7, point.state().step());
    assertEquals(List.of("a", "b", "c"), point.holders());
    assertEquals(List.of(HEAD), point.heldSlices().get("c"));
  }

  @Test
  void withoutAStateEveryDeviceHoldsTheLatestAnyHoldsIsTakenAndTheOthersFetchIt() {
    var a = new DeviceEvent.Abandoned("a", held(7, List.of(HEAD)), null);
    var fresh = new DeviceEvent.Abandoned("fresh", null, null);
    RestorePoint point = RestorePoint.latest(List.of(a, fresh)).orElseThrow();
    assertEquals(7, point.state().step());
    assertEquals(List.of("a"), point.holders());
    assertTrue(RestorePoint.latest(List.of(fresh)).isEmpty(), "nobody holds anything");
  }

  @Test
  void optimizerStateIsKeptOnlyWhereEveryNewUpdaterHeldThatVerySlice() {
    var a = new DeviceEvent.Abandoned("a", held(5, List.of(HEAD, BODY)), null);
    var b = new DeviceEvent.Abandoned("b", held(5, List.of(HEAD)), null);
    var c = new DeviceEvent.Abandoned("c", held(5, List.of(HEAD, new GroupPlan.Slice(1, 0, 16))), null);
    RestorePoint point = RestorePoint.at(held(5, List.of()), List.of(a, b, c));
    PlannedJob next = new PlannedJob(Map.of(
        "a", new Assignment("a", List.of(HALF, BODY, HEAD), 0),
        "b", new Assignment("b", List.of(BODY, HEAD), 0),
        "c", new Assignment("c", List.of(HALF, HEAD), 0)),
        List.of(new GroupPlan("g0", List.of(HEAD), List.of("a", "b", "c"), "a", 40, "s0"),
            new GroupPlan("g1", List.of(BODY), List.of("a", "b"), "a", 40, "s1"),
            new GroupPlan("g2", List.of(HALF), List.of("a", "c"), "a", 40, "s2")),
        List.of("l0", "l1", "l2", "l3"), 0, "");
    // HEAD: all three held it. BODY: b did not. HALF: nobody held channels [0, 8) as such (c held [0, 16)).
    assertEquals(List.of(HEAD), point.keptOptimizerState(next, "a", List.of()));

    // A joining device d, without state, fetches a's: it has what a has.
    PlannedJob withJoiner = new PlannedJob(Map.of(
        "a", new Assignment("a", List.of(BODY, HEAD), 0), "d", new Assignment("d", List.of(BODY, HEAD), 0)),
        List.of(new GroupPlan("g0", List.of(HEAD), List.of("a", "d"), "a", 40, "s0"),
            new GroupPlan("g1", List.of(BODY), List.of("a", "d"), "a", 40, "s1")),
        List.of("l0", "l1", "l2", "l3"), 0, "");
    assertEquals(List.of(HEAD, BODY), point.keptOptimizerState(withJoiner, "a", List.of()));
    assertEquals(List.of(HEAD), point.keptOptimizerState(withJoiner, "b", List.of()), "b never updated BODY");
  }

  @Test
  void aJoinerReadingShardsHoldsOnlyWhatBothTheShardsAndItsSourceWouldGiveIt() {
    var a = new DeviceEvent.Abandoned("a", held(5, List.of(HEAD, BODY)), null);
    var b = new DeviceEvent.Abandoned("b", held(5, List.of(HEAD)), null);
    RestorePoint point = RestorePoint.at(held(5, List.of()), List.of(a, b));
    PlannedJob withJoiner = new PlannedJob(Map.of(
        "a", new Assignment("a", List.of(BODY, HEAD), 0), "d", new Assignment("d", List.of(BODY, HEAD), 0)),
        List.of(new GroupPlan("g0", List.of(HEAD), List.of("a", "d"), "a", 40, "s0"),
            new GroupPlan("g1", List.of(BODY), List.of("a", "d"), "a", 40, "s1")),
        List.of("l0", "l1", "l2", "l3"), 0, "");
    // The committing plan's shards: HEAD's on b, which updated it; BODY's on b, which did not (no
    // optimizer state there).
    List<GroupPlan> shards = List.of(
        new GroupPlan("g0", List.of(HEAD), List.of("a", "b"), "a", 40, "s0", "b"),
        new GroupPlan("g1", List.of(BODY), List.of("a"), "a", 40, "s1", "b"));

    assertEquals(List.of(HEAD), point.keptOptimizerState(withJoiner, "a", shards),
        "BODY's shard holds no optimizer state: d may not have it");
    assertEquals(List.of(HEAD, BODY), point.keptOptimizerState(withJoiner, "a", List.of(
        new GroupPlan("g0", List.of(HEAD), List.of("a", "b"), "a", 40, "s0", "b"),
        new GroupPlan("g1", List.of(BODY), List.of("a"), "a", 40, "s1", "a"))));
  }
}
