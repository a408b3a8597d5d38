package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.plan.CommunicationModel;
import org.dsparse.core.plan.DeviceBudget;
import org.dsparse.core.plan.Importance;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.core.plan.Planner;
import org.dsparse.core.plan.PlannerSettings;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.MemoryModels;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three devices on a real in-JVM cluster, driven through the device protocol by a probe acting as
 * coordinator: the plan the devices follow is the planner's, their weights agree after every
 * refresh, each sends exactly its plan's gradients, and the loss falls.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeviceProtocolTest {
  private ThreeDevices cluster;
  private JobSpec spec;
  private PlannedJob plan;

  @BeforeAll
  void startCluster() {
    // a: room for everything; b and c only for the layers after conv1, whose activations are the largest
    // (each budget includes the memory model's 6 MiB cluster overhead).
    cluster = new ThreeDevices(ConfigFactory.parseString("""
        # Whole payloads, whose bytes the plan predicts (segments add a frame header each).
        dsparse.job { model = small-cnn, batch = 32, learning-rate = 0.05, checkpoint-dir = "", id = protocol, overlap = off }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load()), List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB")));
    spec = cluster.spec;
    plan = DjlThread.call(() -> JobPlanning.plan(spec, cluster.devices, cluster.config));
    cluster.prepare(plan);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @Test
  void devicesFollowThePlannersPlan() {
    List<DeviceInfo> devices = cluster.devices;
    Plan expected = DjlThread.call(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, spec.seed())) {
        return Planner.plan(new MemoryModel(model.layerCosts(), MemoryModels.clusterDeviceCoefficients(cluster.config)),
            devices.stream().map(d -> new DeviceBudget(d.name(), d.budgetBytes())).toList(),
            Importance.positional(model.layerCosts()),
            new PlannerSettings(PlanStrategy.COMMUNICATION_AWARE, spec.batch(), OptimizerKind.SGD_MOMENTUM,
                spec.averagingInterval(), spec.refreshInterval(), new CommunicationModel(spec.planner().hopLatencySeconds(),
                    spec.planner().linkBytesPerSecond()), spec.planner().communicationWeight(),
                spec.planner().memoryWeight(), spec.planner().channelSplits(),
                PlannerSettings.DEFAULT_MIN_CHANNEL_FRACTION, spec.planner().sharedTailLayers()));
      }
    });
    for (var assignment : expected.devices()) {
      UpdateSet planned = assignment.update();
      assertEquals(planned.layers().stream().boxed().toList(),
          plan.assignments().get(assignment.device()).updatedLayers(), assignment.device());
    }
    assertEquals(expected.groups().size(), plan.groups().size());
    for (int i = 0; i < plan.groups().size(); i++) {
      assertEquals(expected.groups().get(i).updaters().devices(), plan.groups().get(i).updaters());
    }
    // The budgets make a non-trivial plan: some layer is not updated by every device.
    assertTrue(plan.assignments().values().stream().anyMatch(a -> a.updatedLayers().size() < 4), plan.description());
  }

  @Test
  void eachDeviceSendsExactlyItsPlansGradientsAndWeightsAgreeAfterRefreshes(@TempDir Path dir) throws Exception {
    Map<String, long[]> expected = cluster.plannedBytes(plan);
    for (int i = 0; i < 3; i++) {
      Map<String, DeviceEvent.StepCompleted> reports = cluster.step(i == 2);
      for (DeviceInfo d : cluster.devices) {
        assertEquals(expected.get(d.name())[0], reports.get(d.name()).metrics().allReduceBytes(), d.name());
        assertEquals(i == 2 ? expected.get(d.name())[1] : 0L, reports.get(d.name()).metrics().broadcastBytes(),
            d.name());
      }
    }
    List<byte[]> checkpoints = cluster.checkpoints(dir);
    // Every weight and BatchNorm statistic of every layer, bit for bit, on all three devices.
    assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
    assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
  }

  @Test
  void theWireCountersEqualTheBytesThePlanPredicts() {
    int chunkFloats = CollectiveSettings.fromConfig(cluster.config).chunkFloats();
    Map<String, long[]> expected = cluster.plannedWireBytes(plan, chunkFloats);
    Map<String, DeviceEvent.StepCompleted> reports = cluster.step(true);
    long allReduceSent = 0;
    long allReduceReceived = 0;
    for (DeviceInfo d : cluster.devices) {
      List<WireBytes> wire = reports.get(d.name()).metrics().wire();
      long[] counted = new long[4];
      for (WireBytes w : wire) {
        int at = switch (w.kind()) {
          case WireBytes.ALL_REDUCE -> 0;
          case WireBytes.BROADCAST, WireBytes.REFRESH -> 2;
          default -> -1;
        };
        if (at >= 0) {
          counted[at] += w.sent();
          counted[at + 1] += w.received();
        }
      }
      assertArrayEquals(expected.get(d.name()), counted, d.name() + ": " + wire);
      allReduceSent += counted[0];
      allReduceReceived += counted[1];
      // Step commands, reports and the collectives' start announcements cross the network too.
      assertTrue(wire.stream().anyMatch(w -> w.kind().equals(WireBytes.CONTROL) && w.sent() > 0), wire.toString());
    }
    assertTrue(allReduceSent > 0, "the plan has an AllReduce group");
    assertEquals(allReduceSent, allReduceReceived, "every byte sent in a ring is received");
  }

  @Test
  void lossFalls() {
    double first = 0;
    double last = 0;
    int steps = 30;
    for (int i = 0; i < steps; i++) {
      double mean = cluster.step(true).values().stream().mapToDouble(r -> r.metrics().loss()).average().orElseThrow();
      if (i < 5) {
        first += mean / 5;
      } else if (i >= steps - 5) {
        last += mean / 5;
      }
    }
    assertTrue(last < first - 0.3, "mean loss " + first + " -> " + last);
  }
}
