package org.dsparse.actors.step;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.WireBytes;

/**
 * One device's part of a job's process groups: which it AllReduces, which weights it sends or
 * receives at refreshes, which it leads, which shards it keeps, and the collectives it is a member
 * of.
 *
 * @param device this device's name
 * @param allReduce groups this device updates with others: one AllReduce each, every step (of
 *     gradients) or every averaging step (of weights)
 * @param refresh groups whose weights this device sends, as leader, or receives at refreshes
 * @param led groups whose refresh this device leads
 * @param keptShards ids of the groups whose LayerShard this device keeps: it stores their committed state there
 * @param collectives by id, the process groups this device is a member of
 */
public record DeviceGroups(String device, List<GroupPlan> allReduce, List<GroupPlan> refresh, List<GroupPlan> led,
    Set<String> keptShards, Map<String, Collective> collectives) {

  /**
   * A process group of the job.
   *
   * @param kind what it carries: {@link WireBytes#ALL_REDUCE}, or the weights of a group that one
   *     device updates ({@link WireBytes#BROADCAST}) or that several update ({@link WireBytes#REFRESH}),
   *     or a tile group's exchanges ({@link WireBytes#TILES})
   * @param members device names in rank order; a refresh's leader first
   */
  public record Collective(String id, GroupPlan group, String kind, List<String> members) {}

  /** {@code device}'s part of {@code groups}, for a job of {@code devices} (names) called {@code jobId}. */
  public static DeviceGroups of(String device, String jobId, List<GroupPlan> groups, List<String> devices) {
    List<GroupPlan> allReduce = new ArrayList<>();
    List<GroupPlan> refresh = new ArrayList<>();
    List<GroupPlan> led = new ArrayList<>();
    Set<String> keptShards = new TreeSet<>();
    Map<String, Collective> collectives = new LinkedHashMap<>();
    for (GroupPlan group : groups) {
      boolean leads = group.owner().equals(device);
      if (leads) {
        led.add(group);
      }
      // A shard outside the job is kept by the leader, over the network.
      if (group.shardHome().equals(device) || (leads && !devices.contains(group.shardHome()))) {
        keptShards.add(group.groupId());
      }
      if (group.isAllReduce() && group.updaters().contains(device)) {
        allReduce.add(group);
        String id = allReduceId(jobId, group);
        collectives.put(id, new Collective(id, group, WireBytes.ALL_REDUCE, group.updaters()));
      }
      List<String> receivers = new ArrayList<>(devices);
      receivers.removeAll(group.updaters());
      if (!receivers.isEmpty() && (leads || receivers.contains(device))) {
        refresh.add(group);
        List<String> members = new ArrayList<>();
        members.add(group.owner());
        members.addAll(receivers);
        String id = refreshId(jobId, group);
        collectives.put(id, new Collective(id, group,
            group.isAllReduce() ? WireBytes.REFRESH : WireBytes.BROADCAST, members));
      }
    }
    return new DeviceGroups(device, List.copyOf(allReduce), List.copyOf(refresh), List.copyOf(led), Set.copyOf(keptShards),
        Map.copyOf(collectives));
  }

  /** The same with more collectives a mode's step runs (a tile group's exchanges). */
  public DeviceGroups with(Map<String, Collective> more) {
    Map<String, Collective> all = new LinkedHashMap<>(collectives);
    all.putAll(more);
    return new DeviceGroups(device, allReduce, refresh, led, keptShards, Map.copyOf(all));
  }

  public static String allReduceId(String jobId, GroupPlan group) {
    return jobId + "." + group.groupId() + ".ar";
  }

  public static String refreshId(String jobId, GroupPlan group) {
    return jobId + "." + group.groupId() + ".rf";
  }
}
