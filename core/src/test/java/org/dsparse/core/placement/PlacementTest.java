package org.dsparse.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.dsparse.core.placement.Move.Reason;
import org.junit.jupiter.api.Test;

class PlacementTest {
  private static ShardDemand demand(String group, long bytes, String... preferred) {
    return new ShardDemand(group, bytes, List.of(preferred));
  }

  private static DeviceLoad load(String device, long free) {
    return new DeviceLoad(device, free);
  }

  @Test
  void prefersTheUpdaterWithMostRoom() {
    Home home = Placement.chooseHome(demand("g1", 10, "a", "b", "c"),
        List.of(load("a", 15), load("b", 40), load("c", 30), load("d", 100)));
    assertEquals(new Home("b", false), home);
  }

  @Test
  void tiesAmongUpdatersGoToTheEarlierInPreferenceOrder() {
    Home home = Placement.chooseHome(demand("g1", 10, "c", "a"),
        List.of(load("a", 20), load("c", 20)));
    assertEquals("c", home.device());
  }

  @Test
  void skipsUpdatersWithoutRoomEvenIfOthersHaveLess() {
    Home home = Placement.chooseHome(demand("g1", 10, "a"),
        List.of(load("a", 9), load("b", 12), load("c", 11)));
    assertEquals(new Home("b", false), home);
  }

  @Test
  void tiesAmongNonUpdatersGoByName() {
    Home home = Placement.chooseHome(demand("g1", 10, "a"),
        List.of(load("z", 50), load("m", 50), load("a", 0)));
    assertEquals("m", home.device());
  }

  @Test
  void withoutRoomAnywhereTheMostFreeDeviceIsFlaggedOverBudget() {
    Home home = Placement.chooseHome(demand("g1", 100, "a"),
        List.of(load("a", 20), load("b", 50), load("c", -5)));
    assertEquals(new Home("b", true), home);
  }

  @Test
  void overBudgetTiesPreferUpdaters() {
    Home home = Placement.chooseHome(demand("g1", 100, "c"),
        List.of(load("a", 20), load("c", 20)));
    assertEquals(new Home("c", true), home);
  }

  @Test
  void noDevicesOrRepeatedDevicesAreErrors() {
    var none = assertThrows(IllegalArgumentException.class,
        () -> Placement.chooseHome(demand("g7", 1, "a"), List.of()));
    assertTrue(none.getMessage().contains("g7"), none.getMessage());
    var twice = assertThrows(IllegalArgumentException.class,
        () -> Placement.chooseHome(demand("g7", 1, "a"), List.of(load("a", 1), load("a", 2))));
    assertTrue(twice.getMessage().contains("device a"), twice.getMessage());
  }

  @Test
  void demandsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> demand("g 1", 1, "a"));
    assertThrows(IllegalArgumentException.class, () -> demand("", 1, "a"));
    assertThrows(IllegalArgumentException.class, () -> demand("g1", -1, "a"));
    var repeated = assertThrows(IllegalArgumentException.class, () -> demand("g1", 1, "a", "a"));
    assertTrue(repeated.getMessage().contains("g1"), repeated.getMessage());
    demand("layer-3.conv:0_x", 0);
  }

  @Test
  void aShardWhoseHomeIsGoneMovesToItsNewChoice() {
    List<Move> moves = Placement.rebalance(Map.of("gone", List.of("g1"), "b", List.of()),
        List.of(load("a", 5), load("b", 50), load("c", 30)),
        Map.of("g1", demand("g1", 20, "a", "c")), 10);
    assertEquals(List.of(new Move("g1", "gone", "c", Reason.HOME_GONE)), moves);
  }

  @Test
  void anOverBudgetDeviceSheds_nonUpdaterShardsFirst_untilItFits() {
    // a: free -15 with g1 (10, prefers a), g2 (10, prefers c), g3 (10, prefers a) hosted.
    List<Move> moves = Placement.rebalance(Map.of("a", List.of("g1", "g2", "g3")),
        List.of(load("a", -15), load("b", 100), load("c", 12)),
        Map.of("g1", demand("g1", 10, "a"), "g2", demand("g2", 10, "c"), "g3", demand("g3", 10, "a")), 10);
    assertEquals(List.of(new Move("g2", "a", "c", Reason.HOME_OVER_BUDGET),
        new Move("g1", "a", "b", Reason.HOME_OVER_BUDGET)), moves);
  }

  @Test
  void anOverBudgetShardStaysIfNoOtherDeviceHasRoom() {
    List<Move> moves = Placement.rebalance(Map.of("a", List.of("g1")),
        List.of(load("a", -5), load("b", 3)), Map.of("g1", demand("g1", 10, "a")), 10);
    assertEquals(List.of(), moves);
  }

  @Test
  void aJoinedUpdaterWithRoomTakesItsShardBack() {
    List<Move> moves = Placement.rebalance(Map.of("b", List.of("g1", "g3"), "d", List.of()),
        List.of(load("a", 5), load("b", 10), load("d", 30)),
        Map.of("g1", demand("g1", 20, "a", "c", "d"), "g3", demand("g3", 40, "a", "c")), 10);
    assertEquals(List.of(new Move("g1", "b", "d", Reason.UPDATER_HAS_ROOM)), moves);
  }

  @Test
  void shardsOnAnUpdaterAndUnknownShardsStay() {
    List<Move> moves = Placement.rebalance(Map.of("a", List.of("g1", "mystery"), "b", List.of()),
        List.of(load("a", 0), load("b", 1000)), Map.of("g1", demand("g1", 10, "a", "b")), 10);
    assertEquals(List.of(), moves);
  }

  @Test
  void movesAreCappedAndCountedAgainstTheTargetsRoom() {
    Map<String, ShardDemand> demands = Map.of("g1", demand("g1", 10, "d"), "g2", demand("g2", 10, "d"),
        "g3", demand("g3", 10, "d"));
    List<DeviceLoad> loads = List.of(load("a", 100), load("d", 20));
    Map<String, List<String>> allocation = Map.of("a", List.of("g3", "g1", "g2"), "d", List.of());
    assertEquals(List.of(new Move("g1", "a", "d", Reason.UPDATER_HAS_ROOM)),
        Placement.rebalance(allocation, loads, demands, 1));
    assertEquals(List.of(new Move("g1", "a", "d", Reason.UPDATER_HAS_ROOM),
        new Move("g2", "a", "d", Reason.UPDATER_HAS_ROOM)), Placement.rebalance(allocation, loads, demands, 5));
    assertEquals(List.of(), Placement.rebalance(allocation, loads, demands, 0));
  }

  @Test
  void aRebalanceTargetIsWhatChooseHomePicksAfterTheShardLeft() {
    Map<String, ShardDemand> demands = Map.of("g1", demand("g1", 20, "x", "y"));
    List<Move> moves = Placement.rebalance(Map.of("a", List.of("g1")),
        List.of(load("a", 80), load("x", 25), load("y", 40)), demands, 3);
    assertEquals(1, moves.size());
    Home home = Placement.chooseHome(demands.get("g1"),
        List.of(load("a", 100), load("x", 25), load("y", 40)));
    assertEquals(home.device(), moves.get(0).to());
  }
}
