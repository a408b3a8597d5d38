package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.mode.TrainingModes;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.actors.step.StepResult;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The step pipeline without a cluster: three devices' pipelines in one JVM, their collectives run
 * by an in-memory stand-in that averages, gathers and copies as the process groups do.
 */
class DataParallelStepTest {
  private static final Config CONFIG = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, batch = 32, learning-rate = 0.05, checkpoint-dir = "", id = pipeline, overlap = off }
      # The budgets shape DSparse's plans; the full-update pipelines here run on the same three devices
      # whatever they need, as a baseline does off the lab.
      dsparse.job.planner.memory-check = off
      """).withFallback(ConfigFactory.load());
  private static final long[] BUDGETS = {1L << 30, 20L << 20, 15L << 20};

  @Test
  void threePipelinesStepTogetherAndAgreeAfterARefresh(@TempDir Path dir) throws Exception {
    try (Devices devices = new Devices(CONFIG, new InMemoryCollectives(null))) {
      for (int step = 0; step < 3; step++) {
        List<StepResult> results = devices.step(step, step == 2);
        for (StepResult result : results) {
          assertTrue(Float.isFinite(result.loss()), "loss " + result.loss());
        }
        // The budgets make b and c update only some layers: groups AllReduce every step, and the
        // layers they do not update arrive on refresh steps only.
        assertTrue(results.stream().allMatch(r -> r.allReduceBytes() > 0));
        assertEquals(step == 2, results.stream().anyMatch(r -> r.broadcastBytes() > 0));
      }
      List<byte[]> checkpoints = devices.checkpoints(dir);
      assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
      assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
    }
  }

  @Test
  void overlappedSegmentsGiveTheWeightsOfAnUnsegmentedStep(@TempDir Path dir) throws Exception {
    List<byte[]> plain;
    try (Devices devices = new Devices(CONFIG, new InMemoryCollectives(null))) {
      assertTrue(devices.overlap.cutsFor(0).isEmpty());
      runSteps(devices);
      plain = devices.checkpoints(dir.resolve("plain"));
    }
    Config overlapped = ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = 3 }")
        .withFallback(CONFIG);
    try (Devices devices = new Devices(overlapped, new InMemoryCollectives(null))) {
      // conv3 holds most of the AllReduce bytes: the backward is cut once, below it.
      assertEquals(List.of(2), devices.overlap.cutsFor(0), devices.plan.description());
      runSteps(devices);
      List<byte[]> segmented = devices.checkpoints(dir.resolve("overlapped"));
      // The stand-in sums members in a fixed order, so cutting a payload changes no element's sum.
      for (int i = 0; i < plain.size(); i++) {
        assertArrayEquals(plain.get(i), segmented.get(i), "device " + i);
      }
    }
  }

  @Test
  void takingTheNextBatchThroughTheFrozenLayersAheadChangesNoWeight(@TempDir Path dir) throws Exception {
    List<byte[]> after = null;
    for (String ahead : List.of("off", "on")) {
      Config config = ConfigFactory.parseString("dsparse.job.overlap-next-forward = " + ahead).withFallback(CONFIG);
      try (Devices devices = new Devices(config, new InMemoryCollectives(null))) {
        assertTrue(devices.plan.assignments().values().stream().anyMatch(a -> !a.updatedLayers().contains(0)),
            "some device has frozen layers to take ahead: " + devices.plan.description());
        runSteps(devices);
        List<byte[]> checkpoints = devices.checkpoints(dir.resolve(ahead));
        if (after != null) {
          for (int i = 0; i < after.size(); i++) {
            assertArrayEquals(after.get(i), checkpoints.get(i), "device " + i);
          }
        }
        after = checkpoints;
      }
    }
  }

  @Test
  void compressedGroupsGiveEveryMemberTheSameWeightsForFewerBytes(@TempDir Path dir) throws Exception {
    long denseBytes;
    try (Devices devices = new Devices(CONFIG, new InMemoryCollectives(null))) {
      denseBytes = devices.step(0, false).get(0).allReduceBytes();
    }
    Config overlapped = ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = 3 }");
    for (String kind : List.of("sketch", "topk")) {
      for (Config protocol : List.of(ConfigFactory.empty(), overlapped)) {
        Config config = protocol.withFallback(ConfigFactory.parseString(
            "dsparse.job { mode = full, compression { kind = " + kind + ", ratio = 8, min-floats = 0 } }"))
            .withFallback(CONFIG);
        try (Devices devices = new Devices(config, new InMemoryCollectives(null))) {
          assertEquals(Map.of(), devices.pipelines.get(0).denseGroups());
          for (int step = 0; step < 3; step++) {
            List<StepResult> results = devices.step(step, false);
            for (StepResult result : results) {
              assertTrue(Float.isFinite(result.loss()), kind + ": loss " + result.loss());
              assertTrue(result.allReduceBytes() * 3 < denseBytes, kind + ": " + result.allReduceBytes()
                  + " bytes against " + denseBytes + " dense");
            }
          }
          // No refresh in full mode: the weights agree because every member applied the same update.
          List<byte[]> checkpoints = devices.checkpoints(dir.resolve(kind + protocol.hashCode()));
          assertArrayEquals(checkpoints.get(0), checkpoints.get(1), kind);
          assertArrayEquals(checkpoints.get(0), checkpoints.get(2), kind);
        }
      }
    }
  }

  @Test
  void aCompressedRunIsReproducibleBitForBit(@TempDir Path dir) throws Exception {
    Config config = ConfigFactory.parseString("dsparse.job { mode = dsparse, overlap = on, overlap-segments = 3,"
        + " compression { kind = sketch, ratio = 8, min-floats = 0 } }").withFallback(CONFIG);
    List<List<byte[]>> runs = new ArrayList<>();
    for (int run = 0; run < 2; run++) {
      try (Devices devices = new Devices(config, new InMemoryCollectives(null))) {
        for (int step = 0; step < 3; step++) {
          devices.step(step, step == 2);
        }
        runs.add(devices.checkpoints(dir.resolve("run" + run)));
      }
    }
    for (int i = 0; i < runs.get(0).size(); i++) {
      assertArrayEquals(runs.get(0).get(i), runs.get(1).get(i), "device " + i);
    }
    assertArrayEquals(runs.get(0).get(0), runs.get(0).get(1), "after the refresh the devices agree");
  }

  @Test
  void groupsTooSmallToCompressTravelDenseAndSaySo() throws Exception {
    Config config = ConfigFactory.parseString(
        "dsparse.job { mode = full, compression { kind = sketch, ratio = 8, min-floats = 100000000 } }")
        .withFallback(CONFIG);
    try (Devices devices = new Devices(config, new InMemoryCollectives(null))) {
      Map<String, String> dense = devices.pipelines.get(0).denseGroups();
      assertTrue(!dense.isEmpty() && dense.values().stream().allMatch(why -> why.contains("below min-floats")),
          dense.toString());
    }
  }

  private static final Config COMPRESSED_REFRESHES = ConfigFactory.parseString("""
      dsparse.job.refresh-compression { kind = topk, ratio = 4, exact-every = 100, check-every = 1 }
      """).withFallback(CONFIG);

  /** The group a alone updates and b and c receive. */
  private static GroupPlan broadcastFromA(PlannedJob plan) {
    return plan.groups().stream().filter(g -> g.updaters().equals(List.of("a"))).findFirst()
        .orElseThrow(() -> new AssertionError("no group of a alone: " + plan.description()));
  }

  @Test
  void compressedRefreshesSendLessAndAnExactOneLeavesEveryDeviceTheSameModel(@TempDir Path dir) throws Exception {
    long dense;
    // The same plan (the planner counts what refreshes cost, so a job with compressed ones may plan otherwise).
    try (Devices devices = new Devices(COMPRESSED_REFRESHES, new InMemoryCollectives(null))) {
      dense = devices.step(0, Refresh.EXACT).get(1).broadcastBytes();
    }
    try (Devices devices = new Devices(COMPRESSED_REFRESHES, new InMemoryCollectives(null))) {
      GroupPlan fromA = broadcastFromA(devices.plan);
      for (int step = 0; step < 2; step++) {
        List<StepResult> results = devices.step(step, Refresh.COMPRESSED);
        assertTrue(results.get(1).broadcastBytes() * 3 < dense, results.get(1).broadcastBytes() + " bytes against "
            + dense + " of an exact refresh");
      }
      List<float[]> copies = devices.groupWeights(dir.resolve("compressed"), fromA);
      assertArrayEquals(copies.get(1), copies.get(2), "b and c hold the same copy, the one a keeps for them");
      assertTrue(!java.util.Arrays.equals(copies.get(0), copies.get(1)), "a quarter of the coordinates a step: behind");
      devices.step(2, Refresh.EXACT);
      List<byte[]> checkpoints = devices.checkpoints(dir.resolve("exact"));
      assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
      assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
    }
  }

  @Test
  void anOverlappedRefreshIsAppliedInTheNextStepAndAnExactOneStillLeavesOneModel(@TempDir Path dir)
      throws Exception {
    Config overlapped = ConfigFactory.parseString("dsparse.job.refresh-compression.overlap = on")
        .withFallback(COMPRESSED_REFRESHES);
    try (Devices devices = new Devices(overlapped, new InMemoryCollectives(null))) {
      GroupPlan fromA = broadcastFromA(devices.plan);
      float[] start = devices.groupWeights(dir.resolve("start"), fromA).get(1);
      devices.step(0, Refresh.COMPRESSED);
      List<float[]> afterFirst = devices.groupWeights(dir.resolve("0"), fromA);
      assertArrayEquals(start, afterFirst.get(1), "step 0's refresh is still on its way: b computes with the old copy");
      assertTrue(!java.util.Arrays.equals(start, afterFirst.get(0)), "a's weights moved");
      devices.step(1, Refresh.COMPRESSED);
      List<float[]> afterSecond = devices.groupWeights(dir.resolve("1"), fromA);
      assertTrue(!java.util.Arrays.equals(start, afterSecond.get(1)), "step 0's refresh arrived during step 1");
      assertArrayEquals(afterSecond.get(1), afterSecond.get(2));
      devices.step(2, Refresh.EXACT);
      List<byte[]> checkpoints = devices.checkpoints(dir.resolve("exact"));
      assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
      assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
    }
  }

  @Test
  void aCopyCorruptedInTransitIsCaughtByTheCheckAndSentExactlyInTheSameStep(@TempDir Path dir) throws Exception {
    for (int checkEvery : new int[] {1, 1000}) {
      Config config = ConfigFactory.parseString("dsparse.job.refresh-compression.check-every = " + checkEvery)
          .withFallback(COMPRESSED_REFRESHES);
      JobSpec spec = JobConfig.read(config).spec();
      GroupPlan fromA;
      try (Devices probe = new Devices(config, new InMemoryCollectives(null))) {
        fromA = broadcastFromA(probe.plan);
      }
      InMemoryCollectives collectives = new InMemoryCollectives(null)
          .corrupting(DeviceGroups.refreshId(spec.jobId(), fromA), 0, "c");
      try (Devices devices = new Devices(config, collectives)) {
        devices.step(0, Refresh.COMPRESSED);
        List<float[]> copies = devices.groupWeights(dir.resolve("check" + checkEvery), fromA);
        if (checkEvery == 1) {
          // Re-synced: the weights themselves, on every device.
          assertArrayEquals(copies.get(0), copies.get(1));
          assertArrayEquals(copies.get(0), copies.get(2));
        } else {
          assertTrue(!java.util.Arrays.equals(copies.get(1), copies.get(2)), "unchecked, c's copy stays astray");
        }
      }
    }
  }

  private static void runSteps(Devices devices) throws Exception {
    for (int step = 0; step < 3; step++) {
      devices.step(step, step == 2);
    }
  }

  @Test
  void aFailedCollectiveFailsTheStepNamingTheGroupAndMemberWithAndWithoutOverlap() throws Exception {
    Config overlapped = ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = 3 }")
        .withFallback(CONFIG);
    for (Config config : List.of(CONFIG, overlapped)) {
      try (Devices devices = new Devices(config, new InMemoryCollectives("missing member c"))) {
        ExecutionException failure = assertThrows(ExecutionException.class, () ->
            devices.pipelines.get(0).run(0, 0, true, Refresh.EXACT, false, devices.overlap.cutsFor(0)).toCompletableFuture()
                .get(60, TimeUnit.SECONDS));
        String message = StageFailure.message(failure);
        assertTrue(message.contains("pipeline.g") && message.contains("missing member c"), message);
      }
    }
  }

  @Test
  void cutsThatAreNotAscendingLayersOrForAJobWithoutOverlapFailTheStepSayingSo() throws Exception {
    Config overlapped = ConfigFactory.parseString("dsparse.job { overlap = on, overlap-segments = 3 }")
        .withFallback(CONFIG);
    for (Config config : List.of(CONFIG, overlapped)) {
      try (Devices devices = new Devices(config, new InMemoryCollectives(null))) {
        ExecutionException failure = assertThrows(ExecutionException.class, () ->
            devices.pipelines.get(0).run(0, 0, false, Refresh.NONE, false, List.of(2, 1)).toCompletableFuture()
                .get(60, TimeUnit.SECONDS));
        String message = StageFailure.message(failure);
        assertTrue(message.contains(config == CONFIG ? "does not overlap" : "ascending layers"), message);
      }
    }
  }

  /** Three devices' runtimes and pipelines for the planner's plan. */
  private static final class Devices implements AutoCloseable {
    final List<ModeRuntime> runtimes = new ArrayList<>();
    final List<DeviceStep> pipelines = new ArrayList<>();
    final PlannedJob plan;
    final OverlapScheduler overlap;
    final JobSpec spec;

    Devices(Config config, InMemoryCollectives collectives) {
      spec = JobConfig.read(config).spec();
      List<DeviceInfo> infos = new ArrayList<>();
      for (int i = 0; i < BUDGETS.length; i++) {
        infos.add(new DeviceInfo(String.valueOf((char) ('a' + i)), "pekko://dsparse@127.0.0.1:" + (2550 + i),
            BUDGETS[i], null));
      }
      plan = DjlThread.call(() -> JobPlanning.plan(spec, infos, config));
      overlap = JobPlanning.overlapScheduler(spec, plan);
      List<String> names = infos.stream().map(DeviceInfo::name).toList();
      for (int rank = 0; rank < infos.size(); rank++) {
        String name = names.get(rank);
        int r = rank;
        ModeRuntime runtime = DjlThread.call(() -> TrainingModes.of(spec).prepare(new Preparation(spec, infos, name,
            plan.assignments().get(name), plan.groups(), DeviceSettings.of(name, BUDGETS[r], false)
                .dataSource(spec.data(), "test data"), false, null, null)));
        runtimes.add(runtime);
        DeviceGroups groups = runtime.groups(name, spec.jobId(), plan.groups(), names);
        pipelines.add(runtime.pipeline(groups, collectives.member(name, groups), Compute.DJL_THREAD));
      }
    }

    List<StepResult> step(long step, boolean refresh) throws Exception {
      return step(step, Refresh.exactIf(refresh));
    }

    List<StepResult> step(long step, Refresh refresh) throws Exception {
      List<CompletableFuture<StepResult>> running = new ArrayList<>();
      for (DeviceStep pipeline : pipelines) {
        running.add(pipeline.run(0, step, refresh.any(), refresh, false, overlap.cutsFor(step)).toCompletableFuture());
      }
      List<StepResult> results = new ArrayList<>();
      for (CompletableFuture<StepResult> r : running) {
        results.add(r.get(60, TimeUnit.SECONDS));
      }
      return results;
    }

    List<byte[]> checkpoints(Path dir) throws Exception {
      List<byte[]> result = new ArrayList<>();
      Files.createDirectories(dir);
      for (int i = 0; i < runtimes.size(); i++) {
        Path path = dir.resolve(i + ".ckpt");
        ModeRuntime runtime = runtimes.get(i);
        DjlThread.run(() -> runtime.saveCheckpoint(path, 0, 0, ""));
        result.add(ThreeDevices.weights(path, spec));
      }
      return result;
    }

    /** Each device's weights of {@code group}'s slices, from the checkpoints it saves into {@code dir}. */
    List<float[]> groupWeights(Path dir, GroupPlan group) throws Exception {
      List<float[]> result = new ArrayList<>();
      Files.createDirectories(dir);
      for (int i = 0; i < runtimes.size(); i++) {
        Path path = dir.resolve(i + ".ckpt");
        ModeRuntime runtime = runtimes.get(i);
        DjlThread.run(() -> runtime.saveCheckpoint(path, 0, 0, ""));
        result.add(DjlThread.call(() -> {
          try (LayeredModel model = Models.create(spec.model(), new Shape(1, 28, 28), 10, spec.seed())) {
            Checkpoint.load(model, path);
            return model.exportWeights(Plans.channelSlices(group.slices()));
          }
        }));
      }
      return result;
    }

    @Override
    public void close() {
      runtimes.forEach(r -> DjlThread.run(r::close));
    }
  }

  /**
   * Collectives among members of this JVM: a call completes once every member of its group has
   * made it (AllReduce: the mean, summed in member-name order whatever the order of arrival;
   * Broadcast: the leader's copy), or at once with a failure when {@code failure} is set.
   */
  private static final class InMemoryCollectives {
    private final String failure;
    /** Per group id and step: what each member passed, and their futures. */
    private final Map<String, Round> rounds = new HashMap<>();
    private final Map<String, Integer> sizes = new HashMap<>();
    /** Per group id, its members in rank order. */
    private final Map<String, List<String>> ranks = new HashMap<>();

    InMemoryCollectives(String failure) {
      this.failure = failure;
    }

    private final class Round {
      final Map<String, float[]> payloads = new java.util.TreeMap<>();
      final List<CompletableFuture<Collectives.Transfer>> futures = new ArrayList<>();
      final List<float[]> buffers = new ArrayList<>();
      final List<String> members = new ArrayList<>();
      float[] leader;
    }

    Collectives member(String name, DeviceGroups groups) {
      groups.collectives().values().forEach(c -> {
        sizes.put(c.id(), c.members().size());
        ranks.put(c.id(), c.members());
      });
      return new Collectives() {
        @Override
        public CompletionStage<Transfer> allReduce(String group, long sequence, float[] payload, int[] partLengths) {
          return join(name, group, sequence, payload, false, false, false);
        }

        @Override
        public CompletionStage<Transfer> sum(String group, long sequence, float[] payload) {
          return join(name, group, sequence, payload, false, false, true);
        }

        @Override
        public CompletionStage<Transfer> allGather(String group, long sequence, float[] buffer) {
          return join(name, group, sequence, buffer, false, true, false);
        }

        @Override
        public CompletionStage<Transfer> broadcast(String group, long sequence, float[] weights, int length) {
          return join(name, group, sequence, weights != null ? weights : new float[length], weights != null, false,
              false);
        }
      };
    }

    /** What member {@code member} receives of group {@code group}'s collective {@code sequence} is changed. */
    private record Corruption(String group, long sequence, String member) {}

    private Corruption corruption;

    /** The last float member {@code member} receives in collective {@code sequence} of group {@code group} is changed. */
    InMemoryCollectives corrupting(String group, long sequence, String member) {
      corruption = new Corruption(group, sequence, member);
      return this;
    }

    private synchronized CompletionStage<Collectives.Transfer> join(String member, String group, long step,
        float[] payload, boolean leads, boolean gather, boolean sum) {
      if (failure != null) {
        return CompletableFuture.failedFuture(new Collectives.Failure("collective of group " + group
            + " failed (" + failure + "): deadline passed"));
      }
      Round round = rounds.computeIfAbsent(group + "@" + step, k -> new Round());
      CompletableFuture<Collectives.Transfer> future = new CompletableFuture<>();
      round.payloads.put(member, payload);
      round.buffers.add(payload);
      round.members.add(member);
      round.futures.add(future);
      if (leads) {
        round.leader = payload;
      }
      if (round.payloads.size() == sizes.get(group)) {
        rounds.remove(group + "@" + step);
        float[] result = gather ? gather(ranks.get(group), round.payloads)
            : round.leader != null ? round.leader.clone() : sum ? sum(List.copyOf(round.payloads.values()))
            : mean(List.copyOf(round.payloads.values()));
        for (int i = 0; i < round.buffers.size(); i++) {
          System.arraycopy(result, 0, round.buffers.get(i), 0, result.length);
          if (corruption != null && corruption.equals(new Corruption(group, step, round.members.get(i)))) {
            round.buffers.get(i)[result.length - 1] += 0.5f;
          }
          round.futures.get(i).complete(new Collectives.Transfer(round.buffers.get(i), 0));
        }
      }
      return future;
    }

    /** Part r of member r's buffer, for every rank r. */
    private static float[] gather(List<String> members, Map<String, float[]> payloads) {
      float[] result = new float[payloads.values().iterator().next().length];
      int part = result.length / members.size();
      for (int r = 0; r < members.size(); r++) {
        System.arraycopy(payloads.get(members.get(r)), r * part, result, r * part, part);
      }
      return result;
    }

    private static float[] mean(List<float[]> payloads) {
      float[] sum = sum(payloads);
      for (int i = 0; i < sum.length; i++) {
        sum[i] /= payloads.size();
      }
      return sum;
    }

    private static float[] sum(List<float[]> payloads) {
      float[] sum = new float[payloads.get(0).length];
      for (float[] p : payloads) {
        for (int i = 0; i < sum.length; i++) {
          sum[i] += p[i];
        }
      }
      return sum;
    }
  }
}
