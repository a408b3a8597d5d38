package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.dsparse.actors.node.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole jobs through the coordinator on a 3-device in-JVM cluster. */
class JobCoordinatorTest {
  private static final List<LocalCluster.Member> DEVICES = List.of(new LocalCluster.Member("a", "1GiB"),
      new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB"));

  private static Config config(Path checkpoints, String id) {
    return ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, devices = 3, max-steps-per-epoch = 8, epochs = 2 }
        dsparse.collective.deadline = 3 s
        pekko.loglevel = WARNING
        """).withValue("dsparse.job.checkpoint-dir", ConfigValueFactory.fromAnyRef(checkpoints.toString()))
        .withValue("dsparse.job.id", ConfigValueFactory.fromAnyRef(id))
        .withFallback(ConfigFactory.load());
  }

  @Test
  void aJobRunsItsEpochsEvaluatesAndCheckpoints(@TempDir Path dir) throws Exception {
    Config config = config(dir, "complete");
    try (LocalCluster cluster = LocalCluster.start(config, DEVICES, Duration.ofSeconds(30))) {
      JobEvent end = cluster.node(1).submit(JobConfig.read(config), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
      JobReport report = ((JobEvent.Succeeded) end).report();
      assertEquals(16, report.steps());
      assertEquals(2, report.epochAccuracies().size());
      assertTrue(report.testAccuracy() > 0.1, "better than chance on 10 classes: " + report.testAccuracy());
      assertEquals(3, report.devices().size());
      // The planner could not give b and c everything: the report shows who updated what.
      assertEquals(4, report.devices().get(0).updatedLayers());
      assertTrue(report.devices().get(2).updatedLayers() < 4);
      assertEquals(2, report.checkpoints().size());
      for (String checkpoint : report.checkpoints()) {
        assertTrue(Files.size(Path.of(checkpoint)) > 1000, checkpoint);
      }
    }
  }

  @Test
  void withoutElasticityADeviceThatStopsMidJobFailsTheJobNamingItAndKeepsCheckpoints(@TempDir Path dir)
      throws Exception {
    Config config = ConfigFactory.parseString("dsparse.job.elastic.enabled = off").withFallback(config(dir, "broken"));
    try (LocalCluster cluster = LocalCluster.start(config, DEVICES, Duration.ofSeconds(30))) {
      CountDownLatch secondEpoch = new CountDownLatch(1);
      CompletableFuture<JobEvent> end = cluster.node(0).submit(JobConfig.read(config), e -> {
        if (e instanceof JobEvent.StepReported step && step.step() == 10) {
          secondEpoch.countDown();
        }
      });
      assertTrue(secondEpoch.await(120, TimeUnit.SECONDS));
      cluster.node(2).system().terminate();
      JobEvent outcome = end.get(60, TimeUnit.SECONDS);
      assertTrue(outcome instanceof JobEvent.Failed, outcome.toString());
      JobEvent.Failed failed = (JobEvent.Failed) outcome;
      assertTrue(failed.reason().contains("device c"), failed.reason());
      assertEquals(1, failed.checkpoints().size(), "the first epoch's checkpoint is kept");
      assertTrue(Files.exists(Path.of(failed.checkpoints().get(0))));
    }
  }

  @Test
  void aJobResumedFromAnEpochsCheckpointsEndsAsTheUninterruptedOneBitForBit(@TempDir Path dir) throws Exception {
    Path first = dir.resolve("uninterrupted");
    Path second = dir.resolve("resumed");
    try (LocalCluster cluster = LocalCluster.start(config(first, "whole"), DEVICES, Duration.ofSeconds(30))) {
      JobEvent whole = cluster.node(0).submit(JobConfig.read(config(first, "whole")), e -> { })
          .get(180, TimeUnit.SECONDS);
      assertTrue(whole instanceof JobEvent.Succeeded, whole.toString());
      Config resume = config(second, "continued").withValue("dsparse.job.resume-from",
          ConfigValueFactory.fromAnyRef(first.resolve("whole").resolve("epoch-1").toString()));
      JobEvent continued = cluster.node(0).submit(JobConfig.read(resume), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(continued instanceof JobEvent.Succeeded, continued.toString());
      JobReport report = ((JobEvent.Succeeded) continued).report();
      assertEquals(16, report.steps(), "the step count goes on from the checkpoint's");
      assertEquals(1, report.epochAccuracies().size(), "only the second epoch ran");
      for (LocalCluster.Member device : DEVICES) {
        Path a = first.resolve("whole").resolve("epoch-2").resolve(device.name() + ".ckpt");
        Path b = second.resolve("continued").resolve("epoch-2").resolve(device.name() + ".ckpt");
        assertSameTraining(a, b);
      }
    }
  }

  @Test
  void aDamagedCheckpointIsRefusedAndTheJobResumesFromThePreviousEpochs(@TempDir Path dir) throws Exception {
    Path first = dir.resolve("first");
    try (LocalCluster cluster = LocalCluster.start(config(first, "kept"), DEVICES, Duration.ofSeconds(30))) {
      JobEvent whole = cluster.node(0).submit(JobConfig.read(config(first, "kept")), e -> { })
          .get(180, TimeUnit.SECONDS);
      assertTrue(whole instanceof JobEvent.Succeeded, whole.toString());
      Path damaged = first.resolve("kept").resolve("epoch-2").resolve("b.ckpt");
      byte[] bytes = Files.readAllBytes(damaged);
      bytes[bytes.length / 2] ^= 0x10;
      Files.write(damaged, bytes);
      Config resume = ConfigFactory.parseString("dsparse.job.epochs = 3")
          .withFallback(config(dir.resolve("second"), "again"))
          .withValue("dsparse.job.resume-from", ConfigValueFactory.fromAnyRef(damaged.getParent().toString()));
      JobEvent continued = cluster.node(0).submit(JobConfig.read(resume), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(continued instanceof JobEvent.Succeeded, continued.toString());
      JobReport report = ((JobEvent.Succeeded) continued).report();
      assertEquals(2, report.epochAccuracies().size(), "epochs 2 and 3 ran, from epoch 1's checkpoints");
      assertEquals(24, report.steps());
    }
  }

  /** The same weights, step and optimizer state in two checkpoints (their plans' text may differ). */
  @Test
  void aSubModelJobResumedFromAnEpochsCheckpointsEndsAsTheUninterruptedOneBitForBit(@TempDir Path dir)
      throws Exception {
    // Plain SGD: a sub-model's optimizer state starts again on resuming, and plain SGD has none.
    Config subModels = ConfigFactory.parseString("""
        dsparse.job { mode = submodels, partition = "classes:0+1+2+3,3+4+5+6,6+7+8+9", optimizer = sgd,
          learning-rate = 0.05, averaging-interval = 3, submodels { compute-share = 0.5, relevance-samples = 200 } }
        """);
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "1GiB"), new LocalCluster.Member("c", "1GiB"));
    Path first = dir.resolve("uninterrupted");
    Path second = dir.resolve("resumed");
    Config whole = subModels.withFallback(config(first, "whole"));
    try (LocalCluster cluster = LocalCluster.start(whole, members, Duration.ofSeconds(30))) {
      JobEvent uninterrupted = cluster.node(0).submit(JobConfig.read(whole), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(uninterrupted instanceof JobEvent.Succeeded, uninterrupted.toString());
      Config resume = subModels.withFallback(config(second, "continued")).withValue("dsparse.job.resume-from",
          ConfigValueFactory.fromAnyRef(first.resolve("whole").resolve("epoch-1").toString()));
      JobEvent continued = cluster.node(0).submit(JobConfig.read(resume), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(continued instanceof JobEvent.Succeeded, continued.toString());
      JobReport report = ((JobEvent.Succeeded) continued).report();
      assertEquals(16, report.steps(), "the step count goes on from the checkpoint's");
      assertEquals(1, report.epochAccuracies().size(), "only the second epoch ran");
      for (LocalCluster.Member device : members) {
        Path a = first.resolve("whole").resolve("epoch-2").resolve(device.name() + ".ckpt");
        Path b = second.resolve("continued").resolve("epoch-2").resolve(device.name() + ".ckpt");
        assertSameWeights(a, b, 8);
      }
    }
  }

  /**
   * The same global model at the same step, {@code b} from a job resumed {@code updatesSinceResume}
   * steps before it was written: its optimizer counted from the resume.
   */
  private static void assertSameWeights(Path a, Path b, long updatesSinceResume) throws Exception {
    org.dsparse.training.trainer.DjlThread.run(() -> {
      try (var one = org.dsparse.training.model.Models.create("small-cnn", new ai.djl.ndarray.types.Shape(1, 28, 28),
          10, 1);
          var two = org.dsparse.training.model.Models.create("small-cnn", new ai.djl.ndarray.types.Shape(1, 28, 28),
              10, 2)) {
        var stateOne = org.dsparse.training.model.Checkpoint.load(one, a).orElseThrow();
        var stateTwo = org.dsparse.training.model.Checkpoint.load(two, b).orElseThrow();
        int[] all = java.util.stream.IntStream.range(0, one.layerCount()).toArray();
        org.junit.jupiter.api.Assertions.assertArrayEquals(one.exportWeights(all), two.exportWeights(all), a + " " + b);
        assertEquals(stateOne.epoch(), stateTwo.epoch(), "epoch");
        assertEquals(stateOne.step(), stateTwo.step(), "step");
        assertEquals(updatesSinceResume, stateTwo.optimizerUpdates(), "optimizer updates since the resume");
      }
    });
  }

  static void assertSameTraining(Path a, Path b) throws Exception {
    org.dsparse.training.trainer.DjlThread.run(() -> {
      try (var one = org.dsparse.training.model.Models.create("small-cnn", new ai.djl.ndarray.types.Shape(1, 28, 28),
          10, 1);
          var two = org.dsparse.training.model.Models.create("small-cnn", new ai.djl.ndarray.types.Shape(1, 28, 28),
              10, 2)) {
        var stateOne = org.dsparse.training.model.Checkpoint.load(one, a).orElseThrow();
        var stateTwo = org.dsparse.training.model.Checkpoint.load(two, b).orElseThrow();
        int[] all = java.util.stream.IntStream.range(0, one.layerCount()).toArray();
        org.junit.jupiter.api.Assertions.assertArrayEquals(one.exportWeights(all), two.exportWeights(all), a + " " + b);
        assertEquals(List.of(stateOne.epoch(), stateOne.step(), stateOne.optimizerUpdates()),
            List.of(stateTwo.epoch(), stateTwo.step(), stateTwo.optimizerUpdates()));
        assertEquals(stateOne.optimizerState().size(), stateTwo.optimizerState().size());
        for (int i = 0; i < stateOne.optimizerState().size(); i++) {
          assertEquals(stateOne.optimizerState().get(i).slice(), stateTwo.optimizerState().get(i).slice());
          org.junit.jupiter.api.Assertions.assertArrayEquals(stateOne.optimizerState().get(i).state(),
              stateTwo.optimizerState().get(i).state(), a + " " + stateOne.optimizerState().get(i).slice());
        }
      }
    });
  }
}
