package org.dsparse.training.submodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SubModelsTest {
  private static final Shape SAMPLE = new Shape(1, 28, 28);
  /** Filters of the small CNN's three layers (16, 32, 64), some kept, and three classes. */
  private static final SubModelSpec A = new SubModelSpec(new int[][] {{0, 3, 5, 9, 15}, {1, 2, 8, 20, 31, 30},
      IntStream.range(10, 40).toArray()}, new int[] {1, 4, 7});
  private static final SubModelSpec B = new SubModelSpec(new int[][] {{3, 4, 5}, {2, 3, 30}, {10, 11, 50, 63}},
      new int[] {0, 4});

  /** The full model's logits for {@code spec}'s classes with every filter it does not keep zeroed. */
  private static NDArray maskedForward(LayeredModel full, SubModelSpec spec, NDArray x, boolean training) {
    ParameterStore store = new ParameterStore(full.manager(), false);
    NDList h = new NDList(x);
    for (int l = 0; l < full.layerCount(); l++) {
      h = full.layer(l).block().forward(store, h, training);
      if (l < spec.filters().length) {
        float[] mask = new float[full.layer(l).outputChannels()];
        for (int f : spec.filters()[l]) {
          mask[f] = 1;
        }
        NDArray m = x.getManager().create(mask).reshape(1, mask.length, 1, 1);
        h = new NDList(h.singletonOrThrow().mul(m));
      }
    }
    NDArray logits = h.singletonOrThrow();
    return logits.get(new NDIndex(":, {}", x.getManager().create(spec.classes()).toType(
        ai.djl.ndarray.types.DataType.INT64, false)));
  }

  @ParameterizedTest(name = "training mode: {0}")
  @ValueSource(booleans = {false, true})
  void aSubModelOnItsClassesComputesTheMaskedFullModel(boolean training) {
    DjlThread.run(() -> {
      try (LayeredModel full = Models.create("small-cnn", SAMPLE, 10, 5);
          LayeredModel sub = SubModels.extract(full, A, 5);
          NDManager manager = Engine.getInstance().newBaseManager()) {
        Engine.getInstance().setRandomSeed(3);
        NDArray x = manager.randomNormal(new Shape(6, 1, 28, 28));
        float[] expected = maskedForward(full, A, x, training).toFloatArray();
        ParameterStore store = new ParameterStore(manager, false);
        NDList h = new NDList(x);
        for (var layer : sub.layers()) {
          h = layer.block().forward(store, h, training);
        }
        float[] actual = h.singletonOrThrow().toFloatArray();
        assertEquals(expected.length, actual.length);
        double scale = 0;
        for (float e : expected) {
          scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], actual[i], 1e-5 * scale, "logit " + i);
        }
      }
    });
  }

  @Test
  void assemblyPutsEveryTrainedElementBackAndLeavesTheRest() {
    DjlThread.run(() -> {
      try (LayeredModel global = Models.create("small-cnn", SAMPLE, 10, 5)) {
        int[] all = IntStream.range(0, global.layerCount()).toArray();
        float[] before = global.exportWeights(all);
        try (LayeredModel a = SubModels.extract(global, A, 1); LayeredModel b = SubModels.extract(global, B, 1)) {
          // Untrained sub-models, any weights: the weighted mean of equal values is each value.
          SubModels.assemble(global, List.of(new SubModels.Trained(A, a, 1), new SubModels.Trained(B, b, 3)));
          assertArrayEquals(before, global.exportWeights(all));
          // A trained: every element it holds goes back where it came from, bit for bit.
          float[] trained = a.exportWeights(all);
          for (int i = 0; i < trained.length; i++) {
            trained[i] += 0.25f + i % 7;
          }
          a.importWeights(all, trained);
          SubModels.assemble(global, List.of(new SubModels.Trained(A, a, 2)));
          try (LayeredModel back = SubModels.extract(global, A, 1)) {
            assertArrayEquals(trained, back.exportWeights(all));
          }
          // Filters and classes outside A are as they were.
          SubModelSpec outside = new SubModelSpec(new int[][] {complement(A.filters()[0], 16),
              complement(A.filters()[1], 32), complement(A.filters()[2], 64)}, complement(A.classes(), 10));
          global.importWeights(all, before);
          try (LayeredModel untouched = SubModels.extract(global, outside, 1)) {
            float[] expected = untouched.exportWeights(all);
            SubModels.assemble(global, List.of(new SubModels.Trained(A, a, 2)));
            try (LayeredModel after = SubModels.extract(global, outside, 1)) {
              assertArrayEquals(expected, after.exportWeights(all));
            }
          }
        }
      }
    });
  }

  /** The sum of the devices' contributions, as an AllReduce adds them, assembles what assemble does. */
  @Test
  void summedContributionsAssembleTheModel() {
    DjlThread.run(() -> {
      try (LayeredModel viaSum = Models.create("small-cnn", SAMPLE, 10, 5);
          LayeredModel direct = Models.create("small-cnn", SAMPLE, 10, 5);
          LayeredModel a = SubModels.extract(direct, A, 1); LayeredModel b = SubModels.extract(direct, B, 1)) {
        int[] all = IntStream.range(0, direct.layerCount()).toArray();
        for (LayeredModel sub : List.of(a, b)) {
          float[] w = sub.exportWeights(all);
          for (int i = 0; i < w.length; i++) {
            w[i] = w[i] * 0.5f + (sub == a ? 1 : -1) * (i % 5) * 0.01f;
          }
          sub.importWeights(all, w);
        }
        float[] summed = SubModels.contribution(viaSum, A, a, 600);
        float[] other = SubModels.contribution(viaSum, B, b, 1400);
        float[] shares = SubModels.shares(viaSum, A, a, 600);
        float[] otherShares = SubModels.shares(viaSum, B, b, 1400);
        for (int i = 0; i < summed.length; i++) {
          summed[i] += other[i];
          shares[i] += otherShares[i];
        }
        SubModels.absorb(viaSum, summed, shares);
        SubModels.assemble(direct, List.of(new SubModels.Trained(A, a, 600), new SubModels.Trained(B, b, 1400)));
        float[] expected = direct.exportWeights(all);
        float[] actual = viaSum.exportWeights(all);
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], actual[i], 1e-6 * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
      }
    });
  }

  private static int[] complement(int[] kept, int n) {
    return IntStream.range(0, n).filter(i -> java.util.Arrays.binarySearch(kept, i) < 0).toArray();
  }

  @Test
  void onlyPlainNetworksHaveSubModels() {
    DjlThread.run(() -> {
      try (LayeredModel mobile = Models.create("mobilenetv2", new Shape(1, 32, 32), 10, 1)) {
        int[][] first = new int[mobile.layerCount() - 1][];
        java.util.Arrays.fill(first, new int[] {0});
        SubModelSpec spec = new SubModelSpec(first, new int[] {0});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SubModels.check(mobile, spec));
        assertTrue(e.getMessage().contains("plain") && e.getMessage().contains("ir1"), e.getMessage());
      }
    });
  }
}
