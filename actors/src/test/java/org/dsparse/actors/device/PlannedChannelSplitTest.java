package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.GroupPlan.Slice;
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
 * The planner's own channel split, run by three devices. Activations are left out of the memory
 * model so that Adam's state decides, and every budget lies between conv3's update with half its
 * channels and with all of them: no device can hold conv3 whole, so the plan must split it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PlannedChannelSplitTest {
  private static final Config CONFIG = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, batch = 16, optimizer = adam, learning-rate = 0.005, checkpoint-dir = "",
        id = planned-split }
      dsparse.memory-model { updated-activation-factor = 0, pass-through-activation-factor = 0,
        transient-factor = 0, prefix-peak-factor = 0, fixed-overhead = 0, cluster-overhead = 0 }
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.load());
  private ThreeDevices cluster;
  private PlannedJob plan;

  @BeforeAll
  void startCluster() {
    long budget = DjlThread.call(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, 1)) {
        MemoryModel memory = new MemoryModel(model.layerCosts(), MemoryModels.coefficients(CONFIG));
        long half = memory.predict(UpdateSet.ofFractions(new double[] {0, 0, 0.5, 0}), 16, OptimizerKind.ADAM)
            .totalBytes();
        long whole = memory.predict(UpdateSet.of(4, 2), 16, OptimizerKind.ADAM).totalBytes();
        return (half + whole) / 2;
      }
    });
    String bytes = Long.toString(budget);
    cluster = new ThreeDevices(CONFIG, List.of(new LocalCluster.Member("a", bytes),
        new LocalCluster.Member("b", bytes), new LocalCluster.Member("c", bytes)));
    plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
    cluster.prepare(plan);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @Test
  void thePlanSplitsConv3IntoDisjointCoveringSlicesAndDevicesHoldTheirGroupsSlices() {
    List<Slice> conv3 = new ArrayList<>();
    plan.groups().forEach(g -> g.slices().stream().filter(s -> s.layer() == 2).forEach(conv3::add));
    conv3.sort(Comparator.comparingInt(Slice::from));
    assertTrue(conv3.size() >= 2, plan.description());
    int next = 0;
    for (Slice s : conv3) {
      assertEquals(next, s.from(), plan.description());
      next = s.to();
    }
    assertEquals(64, next, plan.description());
    for (DeviceInfo d : cluster.devices) {
      List<Slice> own = plan.groups().stream().filter(g -> g.updaters().contains(d.name()))
          .flatMap(g -> g.slices().stream())
          .sorted(Comparator.comparingInt(Slice::layer).thenComparingInt(Slice::from)).toList();
      assertEquals(own, plan.assignments().get(d.name()).updatedSlices(), d.name());
    }
    long planned = plan.groups().stream().mapToLong(GroupPlan::weightBytes).sum();
    long model = DjlThread.call(() -> {
      try (LayeredModel m = Models.create("small-cnn", new Shape(1, 28, 28), 10, 1)) {
        return 4L * m.weightLength(new int[] {0, 1, 2, 3});
      }
    });
    assertEquals(model, planned, "the groups' slices hold every weight once");
  }

  @Test
  void replicasAgreeBitwiseAndEachDeviceReducesExactlyItsSlices(@TempDir Path dir) throws Exception {
    Map<String, long[]> expected = cluster.plannedBytes(plan);
    for (int i = 0; i < 3; i++) {
      Map<String, DeviceEvent.StepCompleted> reports = cluster.step(true);
      for (DeviceInfo d : cluster.devices) {
        DeviceEvent.StepCompleted report = reports.get(d.name());
        assertEquals(expected.get(d.name())[0], report.metrics().allReduceBytes(), d.name());
        assertEquals(expected.get(d.name())[1], report.metrics().broadcastBytes(), d.name());
        assertTrue(Float.isFinite(report.metrics().loss()), d.name());
      }
    }
    List<byte[]> checkpoints = cluster.checkpoints(dir);
    assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
    assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
  }
}
