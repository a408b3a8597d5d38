package org.dsparse.actors.job;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a plan's LayerShards live: Cluster Sharding places each group's shard on a device with room
 * (the budget-aware allocation strategy), after every device has said what training reserves of its
 * budget under the plan; the plan then names each group's home.
 */
final class ShardPlacement {
  private ShardPlacement() {}

  /**
   * Tells the shard directory what each device reserves for training under {@code plan}, waits until
   * every device's node can host shards, then places each group's LayerShard; answers the home
   * device of each group.
   */
  static CompletionStage<Map<String, String>> assignHomes(ActorSystem<?> system, JobSpec spec,
      Collection<DeviceInfo> devices, PlannedJob plan, Duration timeout) {
    String jobId = spec.jobId();
    DeviceDirectory directory = DeviceDirectory.get(system);
    List<CompletableFuture<?>> announced = new ArrayList<>();
    for (DeviceInfo d : devices) {
      announced.add(directory.announce(new DeviceEntry(d.name(), d.address(),
          d.budgetBytes(), plan.assignments().get(d.name()).predictedPeakBytes())).toCompletableFuture());
    }
    List<String> addresses = devices.stream().map(DeviceInfo::address).toList();
    List<GroupPlan> groups = plan.groups();
    return CompletableFuture.allOf(announced.toArray(new CompletableFuture[0]))
        .thenCompose(done -> LayerShard.awaitRegions(system, addresses, timeout))
        .thenCompose(missing -> {
          if (!missing.isEmpty()) {
            // Off the actor's thread: its context's logger is not for futures.
            LoggerFactory.getLogger(JobCoordinator.class).warn(
                "job {}: no shard region registered yet at {}; shards go to the others", jobId, missing);
          }
          Map<String, CompletableFuture<LayerShard.Assigned>> assigned = new LinkedHashMap<>();
          for (GroupPlan group : groups) {
            assigned.put(group.groupId(), LayerShard.assign(system,
                // What the shard adds to its home: the group's weights. The optimizer state it keeps
                // there is the home's own snapshot's arrays, shared (Device.keepShards).
                new ShardDemand(group.shardId(), group.weightBytes(), group.updaters()), timeout)
                .toCompletableFuture());
          }
          return CompletableFuture.allOf(assigned.values().toArray(new CompletableFuture[0])).thenApply(all -> {
            Map<String, String> homes = new LinkedHashMap<>();
            assigned.forEach((id, home) -> homes.put(id, home.join().homeDevice()));
            return homes;
          });
        });
  }

  /**
   * {@code plan} with each group's home where it is one of the job's {@code devices}; a group whose
   * shard went elsewhere (or was not placed: {@code error}) keeps it current from its owner, over the
   * network. The plan's description gains the table of homes.
   */
  static PlannedJob withHomes(PlannedJob plan, Map<String, String> homes, Throwable error, Set<String> devices,
      String jobId, Logger log) {
    List<GroupPlan> groups = new ArrayList<>();
    for (GroupPlan group : plan.groups()) {
      String home = error == null ? homes.get(group.groupId()) : null;
      if (home != null && devices.contains(home)) {
        if (!group.updaters().contains(home)) {
          // It then stores the weights each refresh brings it, which cost no extra transfer.
          log.info("job {}: group {} has its shard on {}, which does not update it (no updater had room)", jobId,
              group.groupId(), home);
        }
        groups.add(group.withShardHome(home));
      } else {
        log.warn("job {}: group {} has its shard on {} ({}), outside the job", jobId, group.groupId(),
            home == null || home.isEmpty() ? "no device" : home,
            error == null ? "placed by the shard allocation" : error.getMessage());
        groups.add(group);
      }
    }
    return plan.withGroups(groups, homesTable(groups));
  }

  private static String homesTable(List<GroupPlan> groups) {
    StringBuilder out = new StringBuilder("layer shards (an updater at the home leads the refresh):\n");
    for (GroupPlan g : groups) {
      out.append(String.format(Locale.ROOT, "  %-6s %-28s home %-10s refresh from %-10s %8.2f MiB  layers %s%n",
          g.groupId(), g.shardId(), g.shardHome(), g.owner(), g.weightBytes() / 1048576.0, g.layers()));
    }
    return out.toString();
  }
}
