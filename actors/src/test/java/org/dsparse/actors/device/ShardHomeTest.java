package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorSystem;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/**
 * A group's LayerShard is kept by the device it lives on, from that device's own copy: at each
 * committed step every device holds every layer as it stands, so even a device that does not update
 * the group (its updaters had no room) stores its weights there, and no shard bytes cross the
 * network. A home that updates the group stores its optimizer state too.
 */
class ShardHomeTest {
  private static final Duration ANSWER = Duration.ofSeconds(30);

  @Test
  void theShardsHomeStoresItsOwnCopyAndNoShardBytesCrossTheNetwork() throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, batch = 32, checkpoint-dir = "", id = homes }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load()), List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB")))) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      ActorSystem<?> system = cluster.cluster.node(0).system();
      // a, the only device with room for the whole model, is announced full, as a device whose
      // plan takes its whole budget is: the shards of the layers only a updates go elsewhere.
      for (DeviceInfo d : cluster.devices) {
        long peak = plan.assignments().get(d.name()).predictedPeakBytes();
        long budget = d.name().equals("a") ? peak : d.budgetBytes();
        DeviceDirectory.get(system).announce(new DeviceEntry(d.name(), d.address(), budget, peak))
            .toCompletableFuture().get();
      }
      assertEquals(Set.of(), LayerShard.awaitRegions(system,
          cluster.devices.stream().map(DeviceInfo::address).toList(), ANSWER).toCompletableFuture().get());
      List<GroupPlan> groups = new ArrayList<>();
      for (GroupPlan group : plan.groups()) {
        String home = LayerShard.assign(system, new ShardDemand(group.shardId(), group.weightBytes(),
            group.updaters()), ANSWER).toCompletableFuture().get().homeDevice();
        groups.add(group.withShardHome(home));
      }
      assertTrue(groups.stream().anyMatch(g -> !g.updaters().contains(g.shardHome())),
          "some shard lives on a device that does not update its group: " + groups);
      cluster.prepare(plan.withGroups(groups, ""));

      List<Map<String, DeviceEvent.StepCompleted>> steps = List.of(cluster.step(true),
          // The first step refreshed every layer: it is committed, and the next step's devices keep it.
          cluster.step(true, true, false, true));

      for (Map<String, DeviceEvent.StepCompleted> reports : steps) {
        for (DeviceEvent.StepCompleted report : reports.values()) {
          for (WireBytes w : report.metrics().wire()) {
            assertFalse(w.kind().equals(WireBytes.SHARD) && (w.sent() > 0 || w.received() > 0),
                report.device() + " moved shard weights over the network: " + w);
          }
        }
      }
      for (GroupPlan group : groups) {
        LayerShard.WeightsSnapshot stored = LayerShard.fetchState(system, group.shardId(),
            java.util.stream.IntStream.range(0, group.slices().size()).boxed().toList(), ANSWER)
            .toCompletableFuture().get();
        assertEquals(1, stored.version(), group.groupId() + " holds the committed step");
        assertEquals(group.weightBytes() / 4, stored.weights().length, group.groupId());
        assertEquals(group.updaters().contains(group.shardHome()), stored.optimizer().length > 0,
            group.groupId() + " at " + group.shardHome() + ", updated by " + group.updaters()
                + ": optimizer state where the home updates the group");
      }
    }
  }
}
