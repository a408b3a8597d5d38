package org.dsparse.training.tiling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A whole training step's gradients with the small CNN's three convolutional layers tiled over k
 * members (two fused groups, so halos cross between them) and the classifier on the head: every
 * member's gradients of the tiled layers, summed over the tile group, and the head's classifier
 * gradients equal one device's untiled step; so do the loss and the running statistics. The members
 * are models of their own in one JVM, their exchanges done in memory in lockstep.
 */
class TiledStepTest {
  /** float32, and exchanges in float32: within 1e-3 of each tensor's largest magnitude. */
  private static final double TOLERANCE = 1e-3;

  @ParameterizedTest(name = "{0}x{1} tiles, groups split after layer {2}")
  @CsvSource({"2, 1, 1", "1, 3, 1", "2, 2, 2", "3, 1, 1"})
  void aTiledStepEqualsTheUntiledOne(int rows, int columns, int split) {
    int height = 29;
    int width = 31;
    int k = rows * columns;
    DjlThread.run(() -> {
      List<LayeredModel> models = new ArrayList<>();
      try (NDManager manager = Engine.getInstance().newBaseManager()) {
        for (int m = 0; m <= k; m++) {
          models.add(Models.create("small-cnn", new Shape(1, height, width), 4, 3));
        }
        Engine.getInstance().setRandomSeed(9);
        NDArray x = manager.randomNormal(new Shape(4, 1, height, width));
        NDArray labels = manager.create(new float[] {0, 1, 2, 3});
        Loss loss = Loss.softmaxCrossEntropyLoss();

        LayeredModel reference = models.get(k);
        float expectedLoss;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          NDList h = new NDList(x);
          ParameterStore store = new ParameterStore(manager, false);
          for (Layer layer : reference.layers()) {
            h = layer.block().forward(store, h, true);
          }
          NDArray value = loss.evaluate(new NDList(labels), h);
          collector.backward(value);
          expectedLoss = value.getFloat();
        }

        float[] tiledLoss = new float[1];
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          Executor direct = Runnable::run;
          InMemoryTiles exchanges = new InMemoryTiles(k);
          List<TiledStep> steps = new ArrayList<>();
          List<CompletionStage<NDArray>> outputs = new ArrayList<>();
          for (int m = 0; m < k; m++) {
            List<Layer> tiled = models.get(m).layers().subList(0, 3);
            List<TiledGroup> groups = List.of(TiledGroup.of(tiled.subList(0, split), 1, height, width),
                TiledGroup.of(tiled.subList(split, 3), outChannels(models.get(m), split), heightAfter(split, height),
                    heightAfter(split, width)));
            List<TileGeometry> geometries = groups.stream().map(g -> g.geometry(rows, columns)).toList();
            TiledStep step = new TiledStep(groups, geometries, tiled, exchanges.member(m), 0, direct, collector,
                manager);
            steps.add(step);
            outputs.add(step.forward(x));
          }
          NDArray whole = outputs.get(0).toCompletableFuture().join();
          for (int m = 1; m < k; m++) {
            assertEquals(null, outputs.get(m).toCompletableFuture().join());
          }
          NDArray leaf = whole.stopGradient();
          leaf.setRequiresGradient(true);
          NDArray logits = models.get(0).layers().get(3).block()
              .forward(new ParameterStore(manager, false), new NDList(leaf), true).singletonOrThrow();
          NDArray value = loss.evaluate(new NDList(labels), new NDList(logits));
          collector.backward(value);
          tiledLoss[0] = value.getFloat();
          List<CompletionStage<NDArray>> done = new ArrayList<>();
          for (int m = 0; m < k; m++) {
            done.add(steps.get(m).backward(m == 0 ? leaf.getGradient() : null));
          }
          for (CompletionStage<NDArray> d : done) {
            d.toCompletableFuture().join();
          }
          for (TiledStep step : steps) {
            step.close();
          }
        }
        assertEquals(expectedLoss, tiledLoss[0], 1e-5 * Math.max(1, Math.abs(expectedLoss)));
        for (int m = 0; m < k; m++) {
          int layers = m == 0 ? 4 : 3;
          for (int l = 0; l < layers; l++) {
            Layer expected = reference.layers().get(l);
            Layer actual = models.get(m).layers().get(l);
            for (int p = 0; p < expected.trainable().size(); p++) {
              close("member " + m + " " + expected.name() + " gradient of " + expected.trainable().get(p).getName(),
                  gradient(expected.trainable().get(p)), gradient(actual.trainable().get(p)));
            }
            for (int p = 0; p < expected.buffers().size(); p++) {
              close("member " + m + " " + expected.name() + " " + expected.buffers().get(p).getName(),
                  expected.buffers().get(p).getArray().toFloatArray(), actual.buffers().get(p).getArray().toFloatArray());
            }
          }
        }
      } finally {
        for (LayeredModel model : models) {
          model.close();
        }
      }
    });
  }

  private static int outChannels(LayeredModel model, int layers) {
    return model.layerCosts().get(layers - 1).outputChannels();
  }

  /** The small CNN pools by 2 in its first two layers. */
  private static int heightAfter(int layers, int size) {
    int s = size;
    for (int l = 0; l < layers && l < 2; l++) {
      s /= 2;
    }
    return s;
  }

  private static float[] gradient(Parameter p) {
    return p.getArray().getGradient().toFloatArray();
  }

  private static void close(String what, float[] expected, float[] actual) {
    double scale = 0;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(worst <= TOLERANCE * scale + 1e-6, what + ": off by " + worst + ", largest magnitude " + scale);
  }

  /** k members' exchanges in memory: the i-th call of every member completes once all k have made it. */
  static final class InMemoryTiles {
    private final int members;
    private final List<Object[]> contributions = new ArrayList<>();
    private final List<List<CompletableFuture<Object>>> waiting = new ArrayList<>();
    private final int[] calls;

    InMemoryTiles(int members) {
      this.members = members;
      this.calls = new int[members];
    }

    TileExchange member(int rank) {
      return new TileExchange() {
        @Override
        public int rank() {
          return rank;
        }

        @Override
        public int members() {
          return members;
        }

        @Override
        public CompletionStage<float[]> sum(float[] local) {
          return call(rank, local, all -> {
            float[] total = new float[local.length];
            for (Object o : all) {
              float[] v = (float[]) o;
              for (int i = 0; i < total.length; i++) {
                total[i] += v[i];
              }
            }
            return total;
          });
        }

        @Override
        public CompletionStage<List<float[]>> gather(float[] local, int[] lengths) {
          assertEquals(lengths[rank], local.length, "member " + rank + " announced another length");
          return call(rank, local, all -> {
            List<float[]> list = new ArrayList<>();
            for (Object o : all) {
              list.add(((float[]) o).clone());
            }
            return list;
          });
        }

        @Override
        public CompletionStage<float[]> broadcast(int root, float[] data, int length) {
          return call(rank, data, all -> ((float[]) all[root]).clone());
        }
      };
    }

    @SuppressWarnings("unchecked")
    private <T> CompletionStage<T> call(int rank, Object local, java.util.function.Function<Object[], T> result) {
      int i = calls[rank]++;
      while (contributions.size() <= i) {
        contributions.add(new Object[members]);
        waiting.add(new ArrayList<>());
      }
      contributions.get(i)[rank] = local;
      CompletableFuture<Object> mine = new CompletableFuture<>();
      waiting.get(i).add(mine);
      if (waiting.get(i).size() == members) {
        for (CompletableFuture<Object> f : List.copyOf(waiting.get(i))) {
          f.complete(result.apply(contributions.get(i)));
        }
      }
      return (CompletionStage<T>) (CompletionStage<?>) mine;
    }
  }
}
