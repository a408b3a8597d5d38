package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.GroupPlan.Slice;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three devices training small-cnn under a plan that splits layers by output channel: conv2's
 * channels 0..11 are updated by a and b together (AllReduce), 12..31 by c alone (Broadcast); conv3's
 * channels 0..39 by all three, 40..63 by b and c, so a updates only part of it while b and c update
 * it whole through two groups. With a refresh every step the replicas stay bitwise identical, and
 * each device's AllReduce carries exactly its slices.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChannelSplitProtocolTest {
  private ThreeDevices cluster;
  private PlannedJob plan;

  @BeforeAll
  void startCluster() {
    cluster = new ThreeDevices(ConfigFactory.parseString("""
        # Its plan is made by hand, without the byte counts that overlap cuts are chosen from.
        dsparse.job { model = small-cnn, batch = 16, learning-rate = 0.05, checkpoint-dir = "", id = split, overlap = off }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load()), List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "1GiB"), new LocalCluster.Member("c", "1GiB")));
    plan = DjlThread.call(() -> {
      try (LayeredModel model = model()) {
        List<GroupPlan> groups = List.of(
            group(model, "conv1", List.of(Slice.whole(0, 16)), "a"),
            group(model, "conv2-low", List.of(new Slice(1, 0, 12)), "a", "b"),
            group(model, "conv2-high", List.of(new Slice(1, 12, 32)), "c"),
            group(model, "conv3-low", List.of(new Slice(2, 0, 40)), "a", "b", "c"),
            group(model, "conv3-high", List.of(new Slice(2, 40, 64)), "b", "c"),
            group(model, "classifier", List.of(Slice.whole(3, 10)), "a", "b", "c"));
        Map<String, Assignment> assignments = new LinkedHashMap<>();
        for (DeviceInfo d : cluster.devices) {
          List<Slice> slices = groups.stream().filter(g -> g.updaters().contains(d.name()))
              .flatMap(g -> g.slices().stream()).sorted(Comparator.comparingInt(Slice::layer)).toList();
          assignments.put(d.name(), new Assignment(d.name(), slices, 0));
        }
        return new PlannedJob(assignments, groups, model.layers().stream().map(l -> l.name()).toList(), 0,
            "conv2 and conv3 split by channel");
      }
    });
    cluster.prepare(plan);
  }

  private LayeredModel model() {
    return Models.create("small-cnn", new Shape(1, 28, 28), 10, cluster.spec.seed());
  }

  private GroupPlan group(LayeredModel model, String id, List<Slice> slices, String... updaters) {
    long bytes = 4L * model.weightLength(Plans.channelSlices(slices));
    return new GroupPlan(id, slices, List.of(updaters), updaters[0], bytes, cluster.spec.jobId() + "." + id);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @Test
  void replicasAgreeBitwiseAndEachDeviceReducesExactlyItsSlices(@TempDir Path dir) throws Exception {
    Map<String, long[]> expected = cluster.plannedBytes(plan);
    // conv2 [0, 12): 12 filters of 32x3x3 plus 4 BatchNorm vectors; conv3 [0, 40) likewise of 64x3x3.
    long conv2Low = 4L * (12 * 16 * 9 + 4 * 12);
    long conv3Low = 4L * (40 * 32 * 9 + 4 * 40);
    long classifier = 4L * (10 * 64 + 10);
    assertEquals(conv2Low + conv3Low + classifier, expected.get("a")[0]);
    for (int i = 0; i < 4; i++) {
      Map<String, DeviceEvent.StepCompleted> reports = cluster.step(true);
      for (DeviceInfo d : cluster.devices) {
        assertEquals(expected.get(d.name())[0], reports.get(d.name()).metrics().allReduceBytes(), d.name());
        assertEquals(expected.get(d.name())[1], reports.get(d.name()).metrics().broadcastBytes(), d.name());
      }
    }
    List<byte[]> checkpoints = cluster.checkpoints(dir);
    assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
    assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
    // Both halves of conv2 moved: c's update reached a and b, and theirs reached c.
    Path checkpoint = dir.resolve("a.ckpt");
    List<float[]> trained = new ArrayList<>();
    List<float[]> initial = new ArrayList<>();
    List<ChannelSlice> halves = List.of(new ChannelSlice(1, 0, 12), new ChannelSlice(1, 12, 32),
        new ChannelSlice(2, 40, 64));
    DjlThread.run(() -> {
      try (LayeredModel fresh = model(); LayeredModel loaded = model()) {
        Checkpoint.load(loaded, checkpoint);
        for (ChannelSlice half : halves) {
          initial.add(fresh.exportWeights(List.of(half)));
          trained.add(loaded.exportWeights(List.of(half)));
        }
      }
    });
    for (int i = 0; i < halves.size(); i++) {
      assertFalse(Arrays.equals(initial.get(i), trained.get(i)), halves.get(i) + " did not change");
    }
  }
}
