package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.actors.step.Compute;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Jobs whose devices change while they run, on an in-JVM cluster of four devices: a device stopped
 * in the middle of a step's compute, AllReduce or Broadcast is dropped, the job rolls back to its
 * last committed step, re-plans for the three left and ends its epochs, and every device left ends
 * with the same model; a device that joins a running job is adopted, receives the model and trains.
 */
class ElasticJobTest {
  private static final int STEPS_PER_EPOCH = 6;

  private static Config config(Path checkpoints, String id, int devices) {
    return ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, max-steps-per-epoch = 6, epochs = 2 }
        dsparse.collective.deadline = 5 s
        pekko.loglevel = WARNING
        """).withValue("dsparse.job.checkpoint-dir", ConfigValueFactory.fromAnyRef(checkpoints.toString()))
        .withValue("dsparse.job.id", ConfigValueFactory.fromAnyRef(id))
        .withValue("dsparse.job.devices", ConfigValueFactory.fromAnyRef(devices))
        .withFallback(ConfigFactory.load());
  }

  /**
   * Model work that stops this device's node at a given stage of a given step: when the stage starts
   * ({@code before}; the stage then never runs) or once it has run.
   */
  private static final class StoppingCompute implements Compute {
    final String stage;
    final int step;
    final boolean before;
    final AtomicReference<Runnable> stop = new AtomicReference<>();
    final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicInteger forwards = new AtomicInteger();
    private final AtomicBoolean fired = new AtomicBoolean();

    StoppingCompute(String stage, int step, boolean before) {
      this.stage = stage;
      this.step = step;
      this.before = before;
    }

    @Override
    public <T> CompletionStage<T> submit(Callable<T> work) {
      return DjlThread.submit(work);
    }

    @Override
    public <T> CompletionStage<T> submit(String name, Callable<T> work) {
      int current = name.equals("forward/backward") ? forwards.getAndIncrement() : forwards.get() - 1;
      boolean here = name.equals(stage) && current == step && !fired.get();
      if (here && before && fired.compareAndSet(false, true)) {
        fire();
        return new java.util.concurrent.CompletableFuture<>(); // the stage never ends: the device is gone
      }
      CompletionStage<T> done = DjlThread.submit(work);
      if (here && !before) {
        return done.whenComplete((value, error) -> {
          if (fired.compareAndSet(false, true)) {
            fire();
          }
        });
      }
      return done;
    }

    private void fire() {
      stop.get().run();
      stopped.countDown();
    }
  }

  @Test
  void aDeviceStoppedMidAllReduceIsDroppedAndTheOthersEndTheJobWithOneModel(@TempDir Path dir) throws Exception {
    // The backward hands its gradients to the AllReduces as it finishes them: right after it, the
    // AllReduces of this step are under way.
    lostMidStep(dir, new StoppingCompute("forward/backward", 3, false), "midallreduce");
  }

  @Test
  void aDeviceStoppedMidBroadcastIsDroppedAndTheOthersEndTheJobWithOneModel(@TempDir Path dir) throws Exception {
    // Every step refreshes: once a device has exported its weights, the refresh Broadcasts run.
    lostMidStep(dir, new StoppingCompute("exporting weights", 4, false), "midbroadcast");
  }

  @Test
  void aDeviceStoppedMidComputeIsDroppedAndTheOthersEndTheJobWithOneModel(@TempDir Path dir) throws Exception {
    lostMidStep(dir, new StoppingCompute("forward/backward", 8, true), "midcompute");
  }

  @Test
  void inModeSubModelsALostDevicesClassesArePlannedOnTheOthersWhichEndTheJobWithOneModel(@TempDir Path dir)
      throws Exception {
    StoppingCompute victim = new StoppingCompute("forward/backward", 4, true);
    Config config = ConfigFactory.parseString("""
        dsparse.job { mode = submodels, partition = "classes:2-4", averaging-interval = 2,
          submodels { compute-share = 0.5, relevance-samples = 200 } }
        """).withFallback(config(dir, "submodels", 4));
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "1GiB"), new LocalCluster.Member("c", "1GiB"),
        new LocalCluster.Member("d", "1GiB", victim));
    try (LocalCluster cluster = LocalCluster.start(config, members, Duration.ofSeconds(30))) {
      victim.stop.set(() -> cluster.node(3).system().terminate());
      JobEvent end = cluster.node(0).submit(JobConfig.read(config), e -> { }).get(300, TimeUnit.SECONDS);
      assertTrue(victim.stopped.await(0, TimeUnit.SECONDS), "the device was stopped");
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
      JobReport report = ((JobEvent.Succeeded) end).report();
      assertEquals(1, report.recoveries().size(), report.recoveries().toString());
      assertEquals(List.of("d"), report.recoveries().get(0).lost());
      assertEquals(2L * STEPS_PER_EPOCH, report.steps(), "every step of both epochs is done");
      // The plan after the loss gives every class to a, b or c (planning refuses a class nobody holds).
      assertTrue(report.plan().contains("a: classes") && !report.plan().contains("d: classes"), report.plan());
      assertSameModel(dir.resolve("submodels").resolve("epoch-2"), List.of("a", "b", "c"));
    }
  }

  @Test
  void withCompressedRefreshesALostDeviceTakesTheJobBackToTheLastExactRefresh(@TempDir Path dir) throws Exception {
    // Exact refreshes at steps 2 and 5 (the epoch's last), compressed ones at 0, 1, 3 and 4: a device lost
    // in step 4 takes the job back to the state after step 2, the last committed one, not after step 3.
    Config compressed = ConfigFactory.parseString(
        "dsparse.job.refresh-compression { kind = topk, ratio = 4, exact-every = 3, check-every = 1 }");
    JobReport.Recovery recovery = lostMidStep(dir, new StoppingCompute("forward/backward", 4, false), "compressed",
        compressed);
    assertEquals(3, recovery.resumedFromStep(), recovery.toString());
    assertEquals(1, recovery.stepsRedone(), recovery.toString());
  }

  private void lostMidStep(Path dir, StoppingCompute victim, String id) throws Exception {
    JobReport.Recovery recovery = lostMidStep(dir, victim, id, ConfigFactory.empty());
    // Every step refreshes, so every step done before the fault was committed: none is lost.
    assertTrue(recovery.resumedFromStep() >= victim.step, recovery.toString());
  }

  private JobReport.Recovery lostMidStep(Path dir, StoppingCompute victim, String id, Config settings)
      throws Exception {
    Config config = settings.withFallback(config(dir, id, 4));
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB"),
        new LocalCluster.Member("d", "20MiB", victim));
    try (LocalCluster cluster = LocalCluster.start(config, members, Duration.ofSeconds(30))) {
      victim.stop.set(() -> cluster.node(3).system().terminate());
      List<JobEvent> events = new CopyOnWriteArrayList<>();
      JobEvent end = cluster.node(0).submit(JobConfig.read(config), events::add).get(300, TimeUnit.SECONDS);
      assertTrue(victim.stopped.await(0, TimeUnit.SECONDS), "the device was stopped at " + victim.stage);
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
      JobReport report = ((JobEvent.Succeeded) end).report();
      assertEquals(1, report.recoveries().size(), report.recoveries().toString());
      JobReport.Recovery recovery = report.recoveries().get(0);
      assertEquals(List.of("d"), recovery.lost());
      assertEquals(List.of("a", "b", "c"), recovery.devices());
      assertTrue(recovery.trainingAgainAtMillis() >= recovery.detectedAtMillis());
      assertEquals(List.of("a", "b", "c"), report.devices().stream().map(JobReport.DeviceReport::name).toList());
      assertEquals(2L * STEPS_PER_EPOCH, report.steps(), "every step of both epochs is done");
      assertEquals(2, report.epochAccuracies().size());
      assertTrue(events.stream().anyMatch(e -> e instanceof JobEvent.Recovered), "the client heard of it");
      Path last = dir.resolve(id).resolve("epoch-2");
      assertSameModel(last, List.of("a", "b", "c"));
      return recovery;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"shards", "device"})
  void aDeviceThatJoinsARunningJobIsAdoptedReceivesTheModelAndTrains(String restoreFrom, @TempDir Path dir)
      throws Exception {
    // Device a holds the job at step 3 until the coordinator has heard of d, so that d joins mid-job;
    // meanwhile the others wait for a in their collectives.
    Config config = ConfigFactory.parseString("dsparse.collective.deadline = 90 s\n"
        + "dsparse.job.elastic.restore-from = " + restoreFrom).withFallback(config(dir, "joined", 3));
    CountDownLatch dWaits = new CountDownLatch(1);
    Compute gate = new Compute() {
      private final AtomicInteger forwards = new AtomicInteger();

      @Override
      public <T> CompletionStage<T> submit(Callable<T> work) {
        return DjlThread.submit(work);
      }

      @Override
      public <T> CompletionStage<T> submit(String stage, Callable<T> work) {
        if (stage.equals("forward/backward") && forwards.getAndIncrement() == 3) {
          return java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
              dWaits.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }).thenCompose(open -> DjlThread.submit(work));
        }
        return DjlThread.submit(work);
      }
    };
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB", gate),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB"));
    try (LocalCluster cluster = LocalCluster.start(config, members, Duration.ofSeconds(30))) {
      CountDownLatch running = new CountDownLatch(1);
      var end = cluster.node(0).submit(JobConfig.read(config), e -> {
        if (e instanceof JobEvent.StepReported step && step.step() == 2) {
          running.countDown();
        }
        if (e instanceof JobEvent.Joining joining && joining.device().equals("d")) {
          dWaits.countDown();
        }
      });
      assertTrue(running.await(120, TimeUnit.SECONDS));
      cluster.add(new LocalCluster.Member("d", "30MiB"), Duration.ofSeconds(30));
      JobEvent outcome = end.get(300, TimeUnit.SECONDS);
      assertTrue(outcome instanceof JobEvent.Succeeded, outcome.toString());
      JobReport report = ((JobEvent.Succeeded) outcome).report();
      assertEquals(1, report.recoveries().size(), report.recoveries().toString());
      JobReport.Recovery adopted = report.recoveries().get(0);
      assertEquals(List.of("d"), adopted.joined());
      assertEquals(List.of(), adopted.lost());
      assertEquals(0, adopted.stepsRedone(), "adopted at a committed step: nothing to train again");
      // d alone lacked the state; it took the model and the optimizer state it keeps from the shards,
      // each from its home, or from the first holder's snapshot.
      assertEquals(List.of("d"), List.copyOf(adopted.fetched().keySet()), adopted.toString());
      DeviceEvent.StateTaken taken = adopted.fetched().get("d");
      assertEquals(restoreFrom.equals("shards") ? "shards" : "device a", taken.from(), taken.toString());
      assertEquals("", taken.note(), "no fallback");
      assertTrue(taken.bytes() >= 4L * modelFloats(), "at least the whole model came: " + taken);
      JobReport.DeviceReport d = report.devices().stream().filter(r -> r.name().equals("d")).findFirst().orElseThrow();
      assertTrue(d.steps() > 0 && d.updatedLayers() > 0, "d trained: " + d);
      assertSameModel(dir.resolve("joined").resolve("epoch-2"), List.of("a", "b", "c", "d"));
    }
  }

  @Test
  void withTooLittleMemoryLeftTheJobPausesAndGoesOnWhenADeviceJoins(@TempDir Path dir) throws Exception {
    // b alone cannot hold the model's update: without a, no plan fits.
    StoppingCompute stopA = new StoppingCompute("forward/backward", 3, true);
    Config config = config(dir, "paused", 2);
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB", stopA),
        new LocalCluster.Member("b", "12MiB"));
    // The coordinator runs on b's node: a's node goes away.
    try (LocalCluster cluster = LocalCluster.start(config, members, Duration.ofSeconds(30))) {
      stopA.stop.set(() -> cluster.node(0).system().terminate());
      List<JobEvent> events = new CopyOnWriteArrayList<>();
      CountDownLatch paused = new CountDownLatch(1);
      var end = cluster.node(1).submit(JobConfig.read(config), e -> {
        events.add(e);
        if (e instanceof JobEvent.Paused) {
          paused.countDown();
        }
      });
      assertTrue(paused.await(120, TimeUnit.SECONDS), "paused: " + events);
      JobEvent.Paused pause = (JobEvent.Paused) events.stream().filter(e -> e instanceof JobEvent.Paused).findFirst()
          .orElseThrow();
      assertTrue(pause.reason().contains("no plan fits the devices left ([b])"), pause.reason());
      cluster.add(new LocalCluster.Member("e", "1GiB"), Duration.ofSeconds(30));
      JobEvent outcome = end.get(300, TimeUnit.SECONDS);
      assertTrue(outcome instanceof JobEvent.Succeeded, outcome.toString());
      JobReport report = ((JobEvent.Succeeded) outcome).report();
      assertEquals(List.of("b", "e"), report.devices().stream().map(JobReport.DeviceReport::name).toList());
      assertEquals(2L * STEPS_PER_EPOCH, report.steps());
      JobReport.Recovery recovery = report.recoveries().get(0);
      assertEquals(List.of("a"), recovery.lost());
      assertEquals(List.of("e"), recovery.joined(), "the pause ended when e joined");
    }
  }

  @Test
  void aJobWhoseCoordinatorIsLostGoesOnFromTheDevicesStateAndEndsAsAnUninterruptedOneBitForBit(@TempDir Path dir)
      throws Exception {
    List<LocalCluster.Member> members = List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "20MiB"), new LocalCluster.Member("c", "15MiB"));
    Config whole = config(dir, "whole", 3);
    Config cut = config(dir, "cut", 3);
    try (LocalCluster cluster = LocalCluster.start(whole, members, Duration.ofSeconds(30))) {
      JobEvent uninterrupted = cluster.node(0).submit(JobConfig.read(whole), e -> { }).get(300, TimeUnit.SECONDS);
      assertTrue(uninterrupted instanceof JobEvent.Succeeded, uninterrupted.toString());

      // The job is submitted from a node without a device, which then leaves mid-job.
      DsparseNode submitter = DsparseNode.startCoordinator(
          NodeConfig.node(cut, "submitter", "127.0.0.1", 0, List.of(), "1GiB", false));
      submitter.join(cluster.node(0).address());
      submitter.awaitUp(Duration.ofSeconds(30));
      CountDownLatch running = new CountDownLatch(1);
      submitter.submit(JobConfig.read(cut), e -> {
        if (e instanceof JobEvent.StepReported step && step.step() == 3) {
          running.countDown();
        }
      });
      assertTrue(running.await(120, TimeUnit.SECONDS));
      submitter.system().terminate();
      submitter.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);

      Config resume = ConfigFactory.parseString("dsparse.job.resume-from = devices").withFallback(cut);
      JobEvent resumed = cluster.node(1).submit(JobConfig.read(resume), e -> { }).get(300, TimeUnit.SECONDS);
      assertTrue(resumed instanceof JobEvent.Succeeded, resumed.toString());
      JobReport report = ((JobEvent.Succeeded) resumed).report();
      assertEquals(1, report.recoveries().size());
      assertTrue(report.recoveries().get(0).resumedFromStep() >= 3, report.recoveries().toString());
      assertEquals(2L * STEPS_PER_EPOCH, report.steps());
      for (LocalCluster.Member device : members) {
        JobCoordinatorTest.assertSameTraining(dir.resolve("whole").resolve("epoch-2").resolve(device.name() + ".ckpt"),
            dir.resolve("cut").resolve("epoch-2").resolve(device.name() + ".ckpt"));
      }
    }
  }

  private static int modelFloats() {
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, 99)) {
        return model.weightLength(IntStream.range(0, model.layerCount()).toArray());
      }
    });
  }

  /** The devices' epoch-end checkpoints in {@code dir} hold the same weights and BatchNorm statistics. */
  private static void assertSameModel(Path dir, List<String> devices) {
    List<float[]> weights = new ArrayList<>();
    DjlThread.run(() -> {
      for (String device : devices) {
        try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, 99)) {
          Checkpoint.load(model, dir.resolve(device + ".ckpt"));
          weights.add(model.exportWeights(IntStream.range(0, model.layerCount()).toArray()));
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    });
    assertFalse(weights.isEmpty());
    for (int i = 1; i < weights.size(); i++) {
      assertArrayEquals(weights.get(0), weights.get(i), devices.get(i) + " differs from " + devices.get(0));
    }
  }
}
