package org.dsparse.actors.job;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;

/**
 * The state a re-planned job continues from, chosen from what its devices say they hold after
 * abandoning their step, and which optimizer state survives the new plan.
 *
 * @param state the step, epoch and step in epoch to continue from
 * @param holders the devices that hold it, in name order (the others fetch the model from the first)
 * @param heldSlices for each holder, the slices whose optimizer state it holds at that step
 */
record RestorePoint(DeviceEvent.HeldState state, List<String> holders, Map<String, List<GroupPlan.Slice>> heldSlices) {

  RestorePoint {
    holders = List.copyOf(holders);
    heldSlices = Map.copyOf(heldSlices);
  }

  /** The committed {@code step}, as far as the devices that answered hold it. */
  static RestorePoint at(DeviceEvent.HeldState state, Collection<DeviceEvent.Abandoned> answers) {
    List<String> holders = new ArrayList<>();
    Map<String, List<GroupPlan.Slice>> slices = new TreeMap<>();
    answers.stream().filter(a -> a.holds(state.step())).sorted(java.util.Comparator.comparing(DeviceEvent.Abandoned::device))
        .forEach(a -> {
          holders.add(a.device());
          slices.put(a.device(), a.slicesAt(state.step()));
        });
    return new RestorePoint(state, holders, slices);
  }

  /**
   * After a lost coordinator: the latest state every device holds (devices stop a step when they
   * lose their coordinator, so some may have completed a step that others did not); failing that,
   * the latest any holds. Empty when none holds any.
   */
  static Optional<RestorePoint> latest(Collection<DeviceEvent.Abandoned> answers) {
    DeviceEvent.HeldState latest = null;
    DeviceEvent.HeldState latestCommon = null;
    for (DeviceEvent.Abandoned answer : answers) {
      for (DeviceEvent.HeldState held : Arrays.asList(answer.snapshot(), answer.live())) {
        if (held == null) {
          continue;
        }
        if (latest == null || held.step() > latest.step()) {
          latest = held;
        }
        if (answers.stream().allMatch(other -> other.holds(held.step()))
            && (latestCommon == null || held.step() > latestCommon.step())) {
          latestCommon = held;
        }
      }
    }
    DeviceEvent.HeldState chosen = latestCommon != null ? latestCommon : latest;
    return Optional.ofNullable(chosen).map(state -> at(state, answers));
  }

  /**
   * Where the devices continue: this point, read from the layer shards of {@code shards} (none: not
   * from shards) or from its first holder still among {@code devices}, which gives the model to the
   * devices without it; empty when no holder is left.
   */
  Optional<DeviceCommand.Restore> restore(Map<String, DeviceInfo> devices, List<GroupPlan> shards) {
    return holders.stream().filter(devices::containsKey).findFirst()
        .map(source -> new DeviceCommand.Restore(state.step(), state.epoch(), state.stepInEpoch(), source,
            devices.get(source).device(), List.of(), shards));
  }

  /**
   * The slices of {@code next} whose updaters all hold optimizer state of that very slice: the same
   * state, since a group's updaters step alike, which they keep. A device without the restore
   * point's state reads it from the layer shards of {@code shards} (when there are any), each of
   * which holds the optimizer state of its group when its home updates the group, or fetches
   * {@code source}'s, optimizer state included; it may do either (it falls back to the source when a
   * shard has lost the step), so it is counted as holding only what both would give it. Any other
   * updated slice starts its optimizer state from zero on all its updaters, so that a group's members
   * never step differently on the same averaged gradient.
   */
  List<GroupPlan.Slice> keptOptimizerState(PlannedJob next, String source, List<GroupPlan> shards) {
    List<GroupPlan.Slice> fetched = new ArrayList<>(heldSlices.getOrDefault(source, List.of()));
    if (!shards.isEmpty()) {
      fetched.retainAll(shards.stream().filter(g -> g.updaters().contains(g.shardHome()))
          .flatMap(g -> g.slices().stream()).toList());
    }
    List<GroupPlan.Slice> kept = new ArrayList<>();
    for (GroupPlan group : next.groups()) {
      for (GroupPlan.Slice slice : group.slices()) {
        if (group.updaters().stream().allMatch(d -> heldSlices.getOrDefault(d, fetched).contains(slice))) {
          kept.add(slice);
        }
      }
    }
    return kept;
  }
}
