package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job with a tile group on a real cluster: devices b and c train the small CNN's first two layers
 * together, each on half of every batch's feature maps, the head (b) running the rest of the network
 * as DSparse's plan says beside device a. Each step the members' tile exchanges and the tiled layers'
 * AllReduce cross the TCP data links; after each refresh every device holds the same model bit for
 * bit, and the tiled layers have learned. A member lost mid-job fails the step naming it.
 */
class TiledJobTest {
  private static final Config CONFIG = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, mode = dsparse, batch = 32, learning-rate = 0.05, checkpoint-dir = "",
        id = tiled, overlap = on, overlap-segments = 2, refresh-interval = 1,
        tiling { devices = [b, c], layers = 2 } }
      dsparse.collective.deadline = 20s
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.load());

  private static List<LocalCluster.Member> members() {
    return List.of(new LocalCluster.Member("a", "1GiB"), new LocalCluster.Member("b", "1GiB"),
        new LocalCluster.Member("c", "512MiB"));
  }

  @Test
  void theTileGroupTrainsTheEarlyLayersAndEveryDeviceEndsEachRefreshWithTheSameModel(@TempDir Path dir)
      throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(CONFIG, members())) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      assertTrue(plan.description().contains("tile group: layers 0-1"), plan.description());
      GroupPlan tiles = plan.groups().stream().filter(g -> g.groupId().equals("tiles")).findFirst().orElseThrow();
      assertEquals(List.of("b", "c"), tiles.updaters(), "the head, b (more memory), first");
      assertEquals(List.of(0, 1), tiles.layers());
      Assignment a = plan.assignments().get("a");
      Assignment c = plan.assignments().get("c");
      assertNull(a.tile());
      assertTrue(a.updatedLayers().stream().allMatch(l -> l >= 2), "a leaves the tiled layers: " + a);
      assertEquals(List.of(0, 1), c.updatedLayers(), "c trains its tiles only");
      assertEquals("b", c.tile().head());
      assertTrue(plan.groups().stream().filter(g -> g != tiles).allMatch(g -> g.layers().stream().allMatch(l -> l >= 2)
          && !g.updaters().contains("c")), "DSparse plans the layers above the tiles among a and b");

      Path initial = dir.resolve("initial");
      Files.createDirectories(initial);
      cluster.prepare(plan);
      byte[] before = cluster.checkpoints(initial).get(0);
      for (int step = 0; step < 3; step++) {
        Map<String, DeviceEvent.StepCompleted> reports = cluster.step(true);
        assertTrue(Float.isFinite(reports.get("b").metrics().loss()), "the head has the batch's loss");
        assertTrue(Float.isNaN(reports.get("c").metrics().loss()), "a member other than the head computes none");
        for (String member : List.of("b", "c")) {
          long tileBytes = reports.get(member).metrics().wire().stream()
              .filter(w -> w.kind().equals(WireBytes.TILES)).mapToLong(WireBytes::total).sum();
          assertTrue(tileBytes > 0, member + " exchanged no tiles: " + reports.get(member).metrics().wire());
        }
        Path stepDir = dir.resolve("step" + step);
        Files.createDirectories(stepDir);
        List<byte[]> weights = cluster.checkpoints(stepDir);
        assertArrayEquals(weights.get(0), weights.get(1), "step " + step + ": a and b");
        assertArrayEquals(weights.get(0), weights.get(2), "step " + step + ": a and c");
        assertFalse(java.util.Arrays.equals(before, weights.get(0)), "step " + step + " changed nothing");
      }
    }
  }

  @Test
  void aLostMemberFailsTheStepNamingIt() throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(CONFIG, members())) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      cluster.prepare(plan);
      cluster.step(true);
      String cAddress = cluster.devices.get(2).address();
      cluster.cluster.node(2).close();
      for (int i = 0; i < 2; i++) {
        cluster.devices.get(i).device().tell(new DeviceCommand.RunStep(cluster.spec.jobId(), 0, 1, 1, false, Refresh.NONE,
            false, List.of(), false, cluster.probe.getRef()));
      }
      for (int i = 0; i < 2; i++) {
        DeviceEvent event = cluster.probe.receiveMessage(Duration.ofSeconds(90));
        if (event instanceof DeviceEvent.Failed failed && failed.reason().contains("tile")) {
          assertTrue(failed.reason().contains(cAddress), failed.reason());
          return;
        }
      }
      throw new AssertionError("no device failed its step naming the lost member");
    }
  }
}
