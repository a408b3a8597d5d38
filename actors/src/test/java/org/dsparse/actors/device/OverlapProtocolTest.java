package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
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
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Overlap on a real cluster: three devices whose backward is cut into segments, each segment's
 * gradients AllReduced by the ring while the backward goes on, end with the weights of the same
 * steps run without overlap bit for bit (each segment is a window of the group's payload, and the
 * ring sums every element of a window in the order it sums it in the whole payload), and move as
 * many bytes.
 */
class OverlapProtocolTest {
  private static final Config BASE = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, batch = 32, learning-rate = 0.05, checkpoint-dir = "", id = overlap, overlap = off }
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.load());

  @Test
  void overlappedStepsEndWithTheWeightsOfPlainStepsBitForBit(@TempDir Path dir) throws Exception {
    Run plain = run(BASE, dir.resolve("plain"));
    Run overlapped = run(ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = 3 }")
        .withFallback(BASE), dir.resolve("overlapped"));
    assertTrue(plain.cuts().stream().allMatch(List::isEmpty));
    assertTrue(overlapped.cuts().stream().noneMatch(List::isEmpty), "every step cuts the backward");
    assertSameWeights(plain, overlapped);
  }

  @Test
  void dynamicallyCutStepsEndWithTheWeightsOfPlainStepsBitForBit(@TempDir Path dir) throws Exception {
    Run plain = run(BASE, dir.resolve("plain"));
    Run dynamic = run(ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = auto }")
        .withFallback(BASE), dir.resolve("dynamic"));
    assertEquals(List.of(), dynamic.cuts().get(0), "the first step warms up");
    assertEquals(List.of(1, 2, 3), dynamic.cuts().get(1), "the second step times every layer");
    assertSameWeights(plain, dynamic);
  }

  private static void assertSameWeights(Run plain, Run overlapped) {
    assertEquals(plain.allReduceBytes(), overlapped.allReduceBytes(), "the parts add up to the whole payloads");
    assertArrayEquals(plain.weights(), overlapped.weights());
  }

  private record Run(List<List<Integer>> cuts, Map<String, Long> allReduceBytes, float[] weights) {}

  private static Run run(Config config, Path dir) throws Exception {
    try (ThreeDevices cluster = new ThreeDevices(config, List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB")))) {
      PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(cluster.spec, cluster.devices, cluster.config));
      cluster.prepare(plan);
      Map<String, Long> bytes = new java.util.TreeMap<>();
      for (int step = 0; step < 3; step++) {
        for (Map.Entry<String, DeviceEvent.StepCompleted> e : cluster.step(step == 2).entrySet()) {
          bytes.merge(e.getKey(), e.getValue().metrics().allReduceBytes(), Long::sum);
        }
      }
      Files.createDirectories(dir);
      cluster.checkpoints(dir); // after the refresh every device holds the same weights: a's will do
      Path checkpoint = dir.resolve("a.ckpt");
      float[] weights = DjlThread.call(() -> {
        try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, cluster.spec.seed())) {
          Checkpoint.load(model, checkpoint);
          return model.exportWeights(java.util.stream.IntStream.range(0, model.layerCount()).toArray());
        }
      });
      return new Run(List.copyOf(cluster.stepCuts), bytes, weights);
    }
  }
}
