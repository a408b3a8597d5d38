package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
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
import java.util.stream.IntStream;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
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
    resumedAfterTheFirstEpoch(dir, ConfigFactory.empty(), DEVICES, JobCoordinatorTest::assertSameTraining);
  }

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
    resumedAfterTheFirstEpoch(dir, subModels, members, (a, b) -> assertSameWeights(a, b, 8));
  }

  @FunctionalInterface
  private interface Comparison {
    void same(Path uninterrupted, Path resumed) throws Exception;
  }

  /**
   * Runs the job ({@code settings} over the test's) for its 2 epochs, then again resumed from the
   * first epoch's checkpoints, and compares each device's checkpoints of the second epoch.
   */
  private static void resumedAfterTheFirstEpoch(Path dir, Config settings, List<LocalCluster.Member> members,
      Comparison comparison) throws Exception {
    Path first = dir.resolve("uninterrupted");
    Path second = dir.resolve("resumed");
    Config whole = settings.withFallback(config(first, "whole"));
    try (LocalCluster cluster = LocalCluster.start(whole, members, Duration.ofSeconds(30))) {
      JobEvent uninterrupted = cluster.node(0).submit(JobConfig.read(whole), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(uninterrupted instanceof JobEvent.Succeeded, uninterrupted.toString());
      Config resume = settings.withFallback(config(second, "continued")).withValue("dsparse.job.resume-from",
          ConfigValueFactory.fromAnyRef(first.resolve("whole").resolve("epoch-1").toString()));
      JobEvent continued = cluster.node(0).submit(JobConfig.read(resume), e -> { }).get(180, TimeUnit.SECONDS);
      assertTrue(continued instanceof JobEvent.Succeeded, continued.toString());
      JobReport report = ((JobEvent.Succeeded) continued).report();
      assertEquals(16, report.steps(), "the step count goes on from the checkpoint's");
      assertEquals(1, report.epochAccuracies().size(), "only the second epoch ran");
      for (LocalCluster.Member device : members) {
        comparison.same(first.resolve("whole").resolve("epoch-2").resolve(device.name() + ".ckpt"),
            second.resolve("continued").resolve("epoch-2").resolve(device.name() + ".ckpt"));
      }
    }
  }

  /**
   * The same global model at the same step, {@code b} from a job resumed {@code updatesSinceResume}
   * steps before it was written: its optimizer counted from the resume.
   */
  private static void assertSameWeights(Path a, Path b, long updatesSinceResume) {
    List<Checkpoint.TrainingState> states = sameWeights(a, b);
    assertEquals(states.get(0).epoch(), states.get(1).epoch(), "epoch");
    assertEquals(states.get(0).step(), states.get(1).step(), "step");
    assertEquals(updatesSinceResume, states.get(1).optimizerUpdates(), "optimizer updates since the resume");
  }

  /** The same weights, step and optimizer state. */
  static void assertSameTraining(Path a, Path b) {
    List<Checkpoint.TrainingState> states = sameWeights(a, b);
    Checkpoint.TrainingState one = states.get(0);
    Checkpoint.TrainingState two = states.get(1);
    assertEquals(List.of(one.epoch(), one.step(), one.optimizerUpdates()),
        List.of(two.epoch(), two.step(), two.optimizerUpdates()));
    assertEquals(one.optimizerState().size(), two.optimizerState().size());
    for (int i = 0; i < one.optimizerState().size(); i++) {
      assertEquals(one.optimizerState().get(i).slice(), two.optimizerState().get(i).slice());
      assertArrayEquals(one.optimizerState().get(i).state(), two.optimizerState().get(i).state(),
          a + " " + one.optimizerState().get(i).slice());
    }
  }

  /** Asserts that the two checkpoints hold the same weights; their training states. */
  private static List<Checkpoint.TrainingState> sameWeights(Path a, Path b) {
    return DjlThread.call(() -> {
      try (LayeredModel one = Models.create("small-cnn", new Shape(1, 28, 28), 10, 1);
          LayeredModel two = Models.create("small-cnn", new Shape(1, 28, 28), 10, 2)) {
        Checkpoint.TrainingState stateOne = Checkpoint.load(one, a).orElseThrow();
        Checkpoint.TrainingState stateTwo = Checkpoint.load(two, b).orElseThrow();
        int[] all = IntStream.range(0, one.layerCount()).toArray();
        assertArrayEquals(one.exportWeights(all), two.exportWeights(all), a + " " + b);
        return List.of(stateOne, stateTwo);
      }
    });
  }
}
