package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.actors.mode.tiles.TileGroupExchange;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.tiling.TiledGroup;
import org.dsparse.training.tiling.TiledStep;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/**
 * Three devices of a real cluster tile the small CNN's convolutional layers, their exchanges over
 * the tile group's process group (ring AllReduce, AllGather and chain Broadcast over the TCP data
 * links); the classifier runs on the head. The step equals one device's untiled step, and a device
 * lost mid-step fails the others' step, naming it, within the group's deadline.
 */
class TiledStepOverGroupTest {
  private static final int HEIGHT = 29;
  private static final int WIDTH = 31;
  private static final int MEMBERS = 3;
  private static final Executor DJL = work -> DjlThread.submit(() -> {
    work.run();
    return null;
  });

  @Test
  void threeDevicesTileTheStepOfOne() throws Exception {
    try (TestCluster cluster = new TestCluster("tiles", MEMBERS)) {
      Devices devices = new Devices(cluster);
      float[] expected = DjlThread.call(() -> devices.untiledStep());
      List<CompletionStage<NDArray>> forwards = DjlThread.call(() -> devices.forwards(MEMBERS));
      NDArray whole = forwards.get(0).toCompletableFuture().get(60, TimeUnit.SECONDS);
      for (int m = 1; m < MEMBERS; m++) {
        assertNull(forwards.get(m).toCompletableFuture().get(60, TimeUnit.SECONDS));
      }
      List<CompletionStage<NDArray>> backwards = DjlThread.call(() -> devices.backwards(whole));
      for (CompletionStage<NDArray> b : backwards) {
        b.toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
      DjlThread.run(() -> {
        devices.close();
        for (int m = 0; m < MEMBERS; m++) {
          float[] actual = devices.gradients(m);
          double scale = 0;
          double worst = 0;
          for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
          }
          assertTrue(worst <= 1e-3 * scale, "device " + m + ": tiled layers' gradients off by " + worst
              + " (largest " + scale + ")");
        }
      });
    }
  }

  @Test
  void aDeviceLostMidStepFailsTheStepNamingIt() throws Exception {
    try (TestCluster cluster = new TestCluster("tiles-lost", MEMBERS)) {
      Devices devices = new Devices(cluster);
      String lost = cluster.address(2).toString();
      cluster.stop(2);
      // Devices 0 and 1 start the step; device 2 is gone before its first exchange.
      List<CompletionStage<NDArray>> forwards = DjlThread.call(() -> devices.forwards(2));
      for (int m = 0; m < 2; m++) {
        CompletionStage<NDArray> forward = forwards.get(m);
        Throwable failure = assertThrows(Exception.class,
            () -> forward.toCompletableFuture().get(30, TimeUnit.SECONDS));
        Throwable cause = failure instanceof java.util.concurrent.ExecutionException || failure instanceof CompletionException
            ? failure.getCause() : failure;
        assertTrue(cause instanceof Collectives.Failure, "device " + m + ": " + cause);
        assertTrue(cause.getMessage().contains(lost), "device " + m + " did not name " + lost + ": "
            + cause.getMessage());
      }
      DjlThread.run(devices::close);
    }
  }

  /** Each device's model (the same seed), tile group and step; the reference model last. */
  private static final class Devices {
    final List<LayeredModel> models = new ArrayList<>();
    final List<TileGroupExchange> exchanges = new ArrayList<>();
    final List<TiledStep> steps = new ArrayList<>();
    NDManager manager;
    GradientCollector collector;
    NDArray x;
    NDArray labels;
    NDArray leaf;
    final Loss loss = Loss.softmaxCrossEntropyLoss();

    Devices(TestCluster cluster) {
      GroupSpec spec = cluster.groupOfAll("tiles");
      List<Map<String, ActorRef<ProcessGroup.Command>>> groups = new ArrayList<>();
      List<ActorRef<ProcessGroup.Command>> ring = cluster.spawn(spec);
      for (int m = 0; m < MEMBERS; m++) {
        groups.add(new java.util.HashMap<>(Map.of("tiles", ring.get(m))));
      }
      // A pair group between every two members, for their point-to-point exchanges.
      for (int a = 0; a < MEMBERS; a++) {
        for (int b = a + 1; b < MEMBERS; b++) {
          String pair = TileGroupExchange.pairId("tiles", a, b);
          List<ActorRef<ProcessGroup.Command>> actors = cluster.spawn(cluster.group(pair, a, b));
          groups.get(a).put(pair, actors.get(0));
          groups.get(b).put(pair, actors.get(1));
        }
      }
      for (int m = 0; m < MEMBERS; m++) {
        Collectives collectives = Collectives.of(groups.get(m), Duration.ofSeconds(30),
            cluster.node(m).system().scheduler());
        exchanges.add(new TileGroupExchange(collectives, "tiles", m, MEMBERS, new AtomicLong()));
      }
      DjlThread.run(() -> {
        manager = Engine.getInstance().newBaseManager();
        for (int m = 0; m <= MEMBERS; m++) {
          models.add(Models.create("small-cnn", new Shape(1, HEIGHT, WIDTH), 4, 3));
        }
        Engine.getInstance().setRandomSeed(9);
        x = manager.randomNormal(new Shape(4, 1, HEIGHT, WIDTH));
        labels = manager.create(new float[] {0, 1, 2, 3});
      });
    }

    /** One device's whole step, untiled: the gradients of the three convolutional layers. */
    float[] untiledStep() {
      LayeredModel reference = models.get(MEMBERS);
      try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
        NDList h = new NDList(x);
        ParameterStore store = new ParameterStore(manager, false);
        for (Layer layer : reference.layers()) {
          h = layer.block().forward(store, h, true);
        }
        c.backward(loss.evaluate(new NDList(labels), h));
      }
      return gradients(MEMBERS);
    }

    /** Starts the first {@code devices} devices' tiled forward; the collector stays open for the step. */
    List<CompletionStage<NDArray>> forwards(int devices) {
      collector = Engine.getInstance().newGradientCollector();
      List<CompletionStage<NDArray>> forwards = new ArrayList<>();
      for (int m = 0; m < devices; m++) {
        List<Layer> tiled = models.get(m).layers().subList(0, 3);
        List<TiledGroup> groups = List.of(TiledGroup.of(tiled.subList(0, 1), 1, HEIGHT, WIDTH),
            TiledGroup.of(tiled.subList(1, 3), 16, HEIGHT / 2, WIDTH / 2));
        List<TileGeometry> geometries = groups.stream().map(g -> g.geometry(MEMBERS, 1)).toList();
        TiledStep step = new TiledStep(groups, geometries, tiled, exchanges.get(m), 0, DJL, collector, manager);
        steps.add(step);
        forwards.add(step.forward(x));
      }
      return forwards;
    }

    /** The head's classifier on the gathered output, then every device's tiled backward. */
    List<CompletionStage<NDArray>> backwards(NDArray whole) {
      leaf = whole.stopGradient();
      leaf.setRequiresGradient(true);
      NDArray logits = models.get(0).layers().get(3).block()
          .forward(new ParameterStore(manager, false), new NDList(leaf), true).singletonOrThrow();
      collector.backward(loss.evaluate(new NDList(labels), new NDList(logits)));
      List<CompletionStage<NDArray>> backwards = new ArrayList<>();
      for (int m = 0; m < steps.size(); m++) {
        backwards.add(steps.get(m).backward(m == 0 ? leaf.getGradient() : null));
      }
      return backwards;
    }

    float[] gradients(int m) {
      List<Float> all = new ArrayList<>();
      for (Layer layer : models.get(m).layers().subList(0, 3)) {
        for (var p : layer.trainable()) {
          for (float f : p.getArray().getGradient().toFloatArray()) {
            all.add(f);
          }
        }
      }
      float[] out = new float[all.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = all.get(i);
      }
      return out;
    }

    void close() {
      if (collector != null) {
        collector.close();
        collector = null;
      }
      steps.forEach(TiledStep::close);
      steps.clear();
    }
  }
}
