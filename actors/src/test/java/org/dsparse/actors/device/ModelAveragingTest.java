package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Periodic model averaging: between averaging steps the updaters of a group train on their own
 * data and drift apart; an averaging step makes every replica identical again, moving weights, not
 * gradients.
 */
class ModelAveragingTest {

  @Test
  void groupsAverageWeightsOnlyOnAveragingStepsAndReplicasAgreeAfterThem(@TempDir Path dir) throws Exception {
    var config = ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, id = averaging, checkpoint-dir = "", averaging-interval = 3 }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    try (ThreeDevices three = new ThreeDevices(config, List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB")))) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(three.spec, three.devices, config));
      assertTrue(plan.groups().stream().anyMatch(g -> g.isAllReduce()), plan.description());
      three.prepare(plan);
      Map<String, long[]> planned = three.plannedBytes(plan);

      for (int i = 0; i < 2; i++) {
        Map<String, DeviceEvent.StepCompleted> local = three.step(false, false);
        local.values().forEach(r -> assertEquals(0, r.metrics().allReduceBytes(), "no gradient AllReduce"));
      }
      Map<String, DeviceEvent.StepCompleted> averaged = three.step(true, true);
      for (var d : three.devices) {
        assertEquals(planned.get(d.name())[0], averaged.get(d.name()).metrics().allReduceBytes(), d.name());
      }
      List<byte[]> synced = three.checkpoints(dir.resolve("synced"));
      assertArrayEquals(synced.get(0), synced.get(1));
      assertArrayEquals(synced.get(0), synced.get(2));

      three.step(false, false);
      List<byte[]> drifted = three.checkpoints(dir.resolve("drifted"));
      assertFalse(Arrays.equals(drifted.get(1), drifted.get(2)),
          "b and c train their shared layers on different data between averaging steps");
    }
  }
}
