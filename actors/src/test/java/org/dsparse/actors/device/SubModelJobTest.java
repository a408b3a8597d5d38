package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job of sub-models on a real cluster: each of three devices trains the small CNN's filters most
 * relevant to its classes on its own images, sending nothing, and every third step the sub-models
 * are assembled by one AllReduce into the same global model on every device, bit for bit (the
 * samples behind each weight summed with the first assembly only); before an
 * evaluation the assembled model is calibrated (BatchNorm statistics, classifier) on all devices'
 * images, and stays the same on every device.
 */
class SubModelJobTest {
  private static final Config CONFIG = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, mode = submodels, batch = 32, learning-rate = 0.05, checkpoint-dir = "",
        id = submodels, partition = "classes:0+1+2+3,3+4+5+6,6+7+8+9", averaging-interval = 3,
        submodels { compute-share = 0.5, relevance-samples = 200 } }
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.load());

  @Test
  void devicesTrainTheirSubModelsAloneAndAssembleTheSameGlobalModel(@TempDir Path dir) throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(CONFIG, List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "1GiB"), new LocalCluster.Member("c", "1GiB")))) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      String text = plan.description();
      assertTrue(text.contains("sub-models") && text.contains("c: classes [6, 7, 8, 9]"), text);
      Assignment b = plan.assignments().get("b");
      assertEquals(List.of(3, 4, 5, 6), b.subModel().classes());
      assertTrue(b.subModel().filters().get(2).size() < 64, "within half the computation a sub-model keeps fewer"
          + " filters: " + b.subModel().filters());
      cluster.prepare(plan);
      Path initial = dir.resolve("initial");
      Files.createDirectories(initial);
      byte[] before = cluster.checkpoints(initial).get(0);
      Map<String, Long> firstAssembly = new HashMap<>();
      long assemblyBytes = 0;
      for (int step = 0; step < 9; step++) {
        boolean assemble = step % 3 == 2;
        boolean evaluated = step == 8;
        Map<String, DeviceEvent.StepCompleted> reports = cluster.step(assemble, false, evaluated);
        for (DeviceEvent.StepCompleted report : reports.values()) {
          long bytes = report.metrics().allReduceBytes();
          assertTrue(Float.isFinite(report.metrics().loss()), report.toString());
          assertEquals(assemble, bytes > 0, "step " + step + ": " + report.device() + " sent " + bytes + " bytes");
          if (step == 2) {
            firstAssembly.put(report.device(), bytes);
          } else if (step == 5) {
            // The plan's first assembly summed each weight's samples too; later ones send the weights alone.
            assertEquals(firstAssembly.get(report.device()) / 2, bytes, report.device() + " at the second assembly");
            assemblyBytes = bytes;
          } else if (evaluated) {
            // The assembly, then the BatchNorm statistics and the classifier's gradients of every calibration step.
            assertTrue(bytes > assemblyBytes, "step " + step + " calibrated nothing: " + bytes + " bytes");
          }
        }
        if (assemble) {
          Path stepDir = dir.resolve("step" + step);
          Files.createDirectories(stepDir);
          List<byte[]> weights = cluster.checkpoints(stepDir);
          assertArrayEquals(weights.get(0), weights.get(1), "step " + step + ": a and b");
          assertArrayEquals(weights.get(0), weights.get(2), "step " + step + ": a and c");
          assertFalse(java.util.Arrays.equals(before, weights.get(0)), "step " + step + " assembled nothing new");
        }
      }
    }
  }
}
