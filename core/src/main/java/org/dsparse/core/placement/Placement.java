package org.dsparse.core.placement;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Chooses homes for layer-group shards and repairs allocations; see the package documentation. */
public final class Placement {
  private Placement() {}

  /**
   * The home for {@code demand} among {@code devices}: the preferred device with room and the most
   * free bytes (ties go to the earlier one in the preference order); else the other device with
   * room and the most free bytes (ties by name); else, over budget, the device with the most free
   * bytes (ties to preferred devices, then by name).
   */
  public static Home chooseHome(ShardDemand demand, List<DeviceLoad> devices) {
    Map<String, Long> free = freeByDevice(devices);
    if (free.isEmpty()) {
      throw new IllegalArgumentException("no device to host group " + demand.groupId());
    }
    return chooseHome(demand, free);
  }

  /**
   * The moves that repair {@code allocation} (device to the group ids it hosts), at most
   * {@code maxMoves}, in this order: shards whose home is not among {@code devices}; shards of a
   * device over budget, until it is not (non-updaters' shards first), if another device has room;
   * shards hosted by a non-updater while one of their updaters has room. Each target is what
   * {@link #chooseHome} picks once the shard has left its home, so an allocation strategy asked for
   * the moved shard's new home afterwards picks the same device. Groups missing from
   * {@code demands} need no room and prefer no device.
   *
   * @param devices the current devices; their free bytes already count the shards they host
   */
  public static List<Move> rebalance(Map<String, List<String>> allocation, List<DeviceLoad> devices,
      Map<String, ShardDemand> demands, int maxMoves) {
    Map<String, Long> free = freeByDevice(devices);
    List<Move> moves = new ArrayList<>();
    if (maxMoves <= 0 || free.isEmpty()) {
      return moves;
    }
    Map<String, List<ShardDemand>> hosted = new TreeMap<>();
    allocation.forEach((device, groups) -> hosted.put(device, groups.stream()
        .map(g -> demands.getOrDefault(g, ShardDemand.unknown(g)))
        .sorted(Comparator.comparing(ShardDemand::groupId)).toList()));
    Set<String> moved = new HashSet<>();

    for (var entry : hosted.entrySet()) {
      if (!free.containsKey(entry.getKey())) {
        for (ShardDemand shard : entry.getValue()) {
          Home home = chooseHome(shard, free);
          if (!record(moves, moved, free, shard, entry.getKey(), home.device(), Move.Reason.HOME_GONE, maxMoves)) {
            return moves;
          }
        }
      }
    }
    for (var entry : hosted.entrySet()) {
      String device = entry.getKey();
      List<ShardDemand> shards = entry.getValue().stream()
          .sorted(Comparator.comparing((ShardDemand s) -> s.prefers(device))).toList();
      for (ShardDemand shard : shards) {
        if (!free.containsKey(device) || free.get(device) >= 0) {
          break;
        }
        Home home = homeAfterLeaving(shard, device, free);
        if (!home.overBudget() && !home.device().equals(device)
            && !record(moves, moved, free, shard, device, home.device(), Move.Reason.HOME_OVER_BUDGET, maxMoves)) {
          return moves;
        }
      }
    }
    for (var entry : hosted.entrySet()) {
      String device = entry.getKey();
      for (ShardDemand shard : entry.getValue()) {
        if (!free.containsKey(device) || moved.contains(shard.groupId()) || shard.prefers(device)
            || shard.preferredDevices().stream().noneMatch(p -> hasRoom(free, p, shard.weightBytes()))) {
          continue;
        }
        Home home = homeAfterLeaving(shard, device, free);
        if (!record(moves, moved, free, shard, device, home.device(), Move.Reason.UPDATER_HAS_ROOM, maxMoves)) {
          return moves;
        }
      }
    }
    return moves;
  }

  private static Home homeAfterLeaving(ShardDemand shard, String device, Map<String, Long> free) {
    Map<String, Long> without = new LinkedHashMap<>(free);
    without.merge(device, shard.weightBytes(), Long::sum);
    return chooseHome(shard, without);
  }

  /** Adds the move and updates {@code free}; false once {@code maxMoves} are reached. */
  private static boolean record(List<Move> moves, Set<String> moved, Map<String, Long> free,
      ShardDemand shard, String from, String to, Move.Reason reason, int maxMoves) {
    moves.add(new Move(shard.groupId(), from, to, reason));
    moved.add(shard.groupId());
    free.computeIfPresent(from, (d, f) -> f + shard.weightBytes());
    free.merge(to, -shard.weightBytes(), Long::sum);
    return moves.size() < maxMoves;
  }

  private static Home chooseHome(ShardDemand demand, Map<String, Long> free) {
    long need = demand.weightBytes();
    String best = null;
    for (String device : demand.preferredDevices()) {
      if (hasRoom(free, device, need) && (best == null || free.get(device) > free.get(best))) {
        best = device;
      }
    }
    if (best != null) {
      return new Home(best, false);
    }
    for (var e : free.entrySet()) {
      if (e.getValue() >= need && (best == null || e.getValue() > free.get(best))) {
        best = e.getKey();
      }
    }
    if (best != null) {
      return new Home(best, false);
    }
    for (String device : demand.preferredDevices()) {
      if (free.containsKey(device) && (best == null || free.get(device) > free.get(best))) {
        best = device;
      }
    }
    for (var e : free.entrySet()) {
      if (best == null || e.getValue() > free.get(best)) {
        best = e.getKey();
      }
    }
    return new Home(best, true);
  }

  private static boolean hasRoom(Map<String, Long> free, String device, long need) {
    Long f = free.get(device);
    return f != null && f >= need;
  }

  /** Free bytes by device, iterated by name so that ties break by name. */
  private static Map<String, Long> freeByDevice(List<DeviceLoad> devices) {
    Map<String, Long> free = new TreeMap<>();
    for (DeviceLoad load : devices) {
      if (free.put(load.device(), load.freeBytes()) != null) {
        throw new IllegalArgumentException("device " + load.device() + " is listed twice");
      }
    }
    return free;
  }
}
