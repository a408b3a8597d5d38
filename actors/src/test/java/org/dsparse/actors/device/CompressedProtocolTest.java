package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Gradient compression on a real cluster: three devices updating every layer (the full update, so no
 * refresh ever copies weights between them) compress their gradients, gs-SGD's two AllReduces or
 * Top-k's AllGather over the TCP data links, with the backward cut into overlapped segments; after
 * each step all three hold the same weights bit for bit, having sent far fewer bytes than the dense
 * AllReduce.
 */
class CompressedProtocolTest {
  private static final Config BASE = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, mode = full, batch = 32, learning-rate = 0.05, checkpoint-dir = "",
        id = compressed, overlap = on, overlap-segments = 3 }
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.load());

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"sketch", "topk"})
  void everyDeviceEndsEachStepWithTheSameWeightsForAFractionOfTheBytes(String kind, @TempDir Path dir)
      throws Exception {
    long dense = allReduceBytesOfOneStep(BASE);
    Config config = ConfigFactory.parseString("dsparse.job.compression { kind = " + kind
        + ", ratio = 8, min-floats = 0 }").withFallback(BASE);
    try (ThreeDevices cluster = new ThreeDevices(config, members())) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      assertTrue(plan.description().contains("compression: " + kind), plan.description());
      cluster.prepare(plan);
      for (int step = 0; step < 3; step++) {
        for (DeviceEvent.StepCompleted completed : cluster.step(false).values()) {
          long bytes = completed.metrics().allReduceBytes();
          assertTrue(bytes * 3 < dense, completed.device() + " sent " + bytes + " bytes, dense " + dense);
        }
        Path stepDir = dir.resolve("step" + step);
        Files.createDirectories(stepDir);
        List<byte[]> weights = cluster.checkpoints(stepDir);
        assertArrayEquals(weights.get(0), weights.get(1), "step " + step + ": a and b");
        assertArrayEquals(weights.get(0), weights.get(2), "step " + step + ": a and c");
      }
    }
  }

  private static List<LocalCluster.Member> members() {
    return List.of(new LocalCluster.Member("a", "1GiB"), new LocalCluster.Member("b", "1GiB"),
        new LocalCluster.Member("c", "1GiB"));
  }

  private static long allReduceBytesOfOneStep(Config config) throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(config, members())) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      cluster.prepare(plan);
      Map<String, DeviceEvent.StepCompleted> reports = cluster.step(false);
      return reports.get("a").metrics().allReduceBytes();
    }
  }
}
