package org.dsparse.training.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.junit.jupiter.api.Test;

class SparseTrainerTest {
  private static final Shape SAMPLE = new Shape(1, 12, 12);

  /** A learnable toy task: the class decides which quadrant of the image is bright. */
  private static NDArray[] batch(NDManager manager, int n, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] pixels = new float[n * 144];
    float[] labels = new float[n];
    for (int s = 0; s < n; s++) {
      int label = random.nextInt(4);
      labels[s] = label;
      for (int y = 0; y < 12; y++) {
        for (int x = 0; x < 12; x++) {
          int quadrant = (y / 6) * 2 + x / 6;
          pixels[s * 144 + y * 12 + x] =
              (quadrant == label ? 1f : 0f) + (float) random.nextGaussian() * 0.3f;
        }
      }
    }
    return new NDArray[] {manager.create(pixels, new Shape(n, 1, 12, 12)), manager.create(labels)};
  }

  /** The layer's weights that training changes (not its BatchNorm statistics), concatenated. */
  private static float[] trainable(LayeredModel model, int layer) {
    List<float[]> parts = model.layer(layer).trainable().stream().map(p -> p.getArray().toFloatArray()).toList();
    float[] all = new float[parts.stream().mapToInt(a -> a.length).sum()];
    int at = 0;
    for (float[] part : parts) {
      System.arraycopy(part, 0, all, at, part.length);
      at += part.length;
    }
    return all;
  }

  private static float[] allWeights(LayeredModel model, int... layers) {
    return model.exportWeights(layers);
  }

  @Test
  void frozenLayersStayBitwiseUnchangedAndUpdatedOnesMove() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 7);
          NDManager data = model.manager().newSubManager()) {
        SparseTrainer trainer = new SparseTrainer(model, UpdateSet.of(4, 1, 3),
            new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.1f, 0.9f, 0f));
        float[] frozen0 = allWeights(model, 0);
        float[] frozen2 = allWeights(model, 2);
        float[] updated1 = allWeights(model, 1);
        float[] updated3 = allWeights(model, 3);
        for (int step = 0; step < 5; step++) {
          NDArray[] b = batch(data, 16, step);
          trainer.forwardBackward(b[0], b[1]);
          trainer.step();
        }
        // Weights and BatchNorm running statistics of frozen layers, before and behind the first
        // updated one, must not move by a single bit.
        assertArrayEquals(frozen0, allWeights(model, 0));
        assertArrayEquals(frozen2, allWeights(model, 2));
        assertFalse(Arrays.equals(updated1, allWeights(model, 1)));
        assertFalse(Arrays.equals(updated3, allWeights(model, 3)));
      }
    });
  }

  @Test
  void importedGradientStepsExactlyToWeightMinusLearningRateTimesGradient() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 3);
          NDManager data = model.manager().newSubManager()) {
        float lr = 0.125f;
        SparseTrainer trainer = new SparseTrainer(model, UpdateSet.of(4, 2, 3), OptimizerSpec.sgd(lr));
        int[] group = {2, 3};
        NDArray[] b = batch(data, 8, 1);
        trainer.forwardBackward(b[0], b[1]);
        float[] before = model.exportWeights(group);
        int n = trainer.gradientLength(group);
        float[] known = new float[n];
        for (int i = 0; i < n; i++) {
          known[i] = (i % 17 - 8) * 0.25f; // dyadic, so lr * g and w - lr * g round identically
        }
        trainer.importGradients(group, known);
        assertArrayEquals(known, trainer.exportGradients(group));
        trainer.step();
        float[] after = model.exportWeights(group);
        int offset = 0;
        for (int layer : group) {
          int trainable = (int) model.layer(layer).trainableParams();
          int weights = trainable + (int) model.layer(layer).bufferElements();
          for (int i = 0; i < trainable; i++) {
            assertEquals(before[offset + i] - lr * known[offset - gradOffsetShift(model, group, layer) + i],
                after[offset + i], 0f, "layer " + layer + " element " + i);
          }
          offset += weights;
        }
      }
    });
  }

  /** Weights interleave buffers between layers, gradients do not: the shift between the layouts. */
  private static int gradOffsetShift(LayeredModel model, int[] group, int layer) {
    int shift = 0;
    for (int l : group) {
      if (l == layer) {
        return shift;
      }
      shift += (int) model.layer(l).bufferElements();
    }
    throw new IllegalArgumentException();
  }

  @Test
  void aLayerOutsideThePlanHasNoGradientToSend() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 3);
          NDManager data = model.manager().newSubManager()) {
        SparseTrainer trainer = new SparseTrainer(model, UpdateSet.of(4, 3), OptimizerSpec.sgd(0.1f));
        NDArray[] b = batch(data, 8, 1);
        trainer.forwardBackward(b[0], b[1]);
        IllegalStateException e =
            assertThrows(IllegalStateException.class, () -> trainer.exportGradients(new int[] {1}));
        assertTrue(e.getMessage().contains("conv2"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> trainer.forwardBackward(b[0], b[1]));
      }
    });
  }

  /** 40 steps of batch 32: the mean loss of the first 5 and of the last 5. */
  private static float[] firstAndLastLosses(SparseTrainer trainer, NDManager data) {
    float first = 0;
    float last = 0;
    for (int step = 0; step < 40; step++) {
      NDArray[] b = batch(data, 32, step);
      float loss = trainer.forwardBackward(b[0], b[1]);
      trainer.step();
      if (step < 5) {
        first += loss / 5;
      } else if (step >= 35) {
        last += loss / 5;
      }
    }
    return new float[] {first, last};
  }

  @Test
  void lossFallsWhenTrainingOnlyTheLastLayers() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 11);
          NDManager data = model.manager().newSubManager()) {
        SparseTrainer trainer = new SparseTrainer(model, UpdateSet.lastLayers(4, 2),
            new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.05f, 0.9f, 0f));
        float[] loss = firstAndLastLosses(trainer, data);
        assertTrue(loss[1] < loss[0] * 0.7, "loss " + loss[0] + " -> " + loss[1]);
        NDArray[] test = batch(data, 200, 999);
        assertTrue(trainer.correct(test[0], test[1]) > 120, "accuracy on a 4-class task above 60%");
      }
    });
  }

  @Test
  void aDeviceUpdatingSomeChannelsLeavesTheOthersBitwiseUnchanged() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 5);
          NDManager data = model.manager().newSubManager()) {
        List<ChannelSlice> updated = List.of(new ChannelSlice(1, 0, 8), model.layer(3).whole(3));
        // Weight decay moves weights even without a gradient: only putting the rows back keeps them.
        SparseTrainer trainer = new SparseTrainer(model, updated,
            new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.1f, 0.9f, 0.05f), 0);
        assertEquals(0.25, trainer.update().fraction(1), 1e-12);
        List<ChannelSlice> others = List.of(new ChannelSlice(1, 8, 32));
        float[] othersBefore = model.exportWeights(others);
        float[] ownBefore = model.exportWeights(List.of(updated.get(0)));
        float[] frozen2 = allWeights(model, 2);
        for (int step = 0; step < 4; step++) {
          NDArray[] b = batch(data, 16, step);
          trainer.forwardBackward(b[0], b[1]);
          float[] gradients = trainer.exportGradients(updated);
          assertEquals(trainer.gradientLength(updated), gradients.length);
          trainer.importGradients(updated, gradients);
          trainer.step();
        }
        // Weights and BatchNorm statistics of channels 8..31, moved by the forward, are put back.
        assertArrayEquals(othersBefore, model.exportWeights(others));
        assertArrayEquals(frozen2, allWeights(model, 2));
        assertFalse(Arrays.equals(ownBefore, model.exportWeights(List.of(updated.get(0)))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SparseTrainer(
            model, List.of(new ChannelSlice(1, 0, 8), new ChannelSlice(1, 4, 12)), OptimizerSpec.sgd(0.1f), 0));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
      }
    });
  }

  @Test
  void aBackwardCutIntoSegmentsGivesTheUncutGradientsBitForBitAndReportsEachSegmentTopDown() {
    DjlThread.run(() -> {
      // All layers updated, cut twice; and a frozen first layer, with a cut at the first updated one.
      for (int[] setup : new int[][] {{0, 1, 3}, {1, 1, 2}}) {
        int first = setup[0];
        int[] cuts = Arrays.copyOfRange(setup, 1, setup.length);
        int[] updated = java.util.stream.IntStream.range(first, 4).toArray();
        try (LayeredModel uncut = Models.create("small-cnn", SAMPLE, 4, 21);
            LayeredModel segmented = Models.create("small-cnn", SAMPLE, 4, 21);
            NDManager data = uncut.manager().newSubManager()) {
          OptimizerSpec sgd = OptimizerSpec.sgd(0.1f);
          SparseTrainer whole = new SparseTrainer(uncut, UpdateSet.of(4, updated), sgd);
          SparseTrainer cut = new SparseTrainer(segmented, UpdateSet.of(4, updated), sgd);
          NDArray[] b = batch(data, 16, 4);
          float wholeLoss = whole.forwardBackward(b[0], b[1]);
          List<Integer> reported = new java.util.ArrayList<>();
          List<Long> times = new java.util.ArrayList<>();
          float cutLoss = cut.forwardBackward(b[0], b[1], cuts, (segment, nanos) -> {
            reported.add(segment);
            times.add(nanos);
          });
          assertEquals(wholeLoss, cutLoss);
          List<Integer> topDown = new java.util.ArrayList<>();
          for (int segment = cuts.length; segment >= 0; segment--) {
            topDown.add(segment);
          }
          assertEquals(topDown, reported, "segments reported from the last down");
          assertEquals(times.stream().sorted().toList(), times, "times since the backward began, in order");
          assertTrue(times.get(0) > 0, "the top segment's backward takes time");
          for (int layer : updated) {
            assertArrayEquals(whole.exportGradients(new int[] {layer}), cut.exportGradients(new int[] {layer}),
                "layer " + layer + " with cuts " + Arrays.toString(cuts));
          }
          whole.step();
          cut.step();
          assertArrayEquals(uncut.exportWeights(updated), segmented.exportWeights(updated));
        }
      }
    });
  }

  @Test
  void twoDevicesUpdatingHalvesOfALayerTogetherMakeTheWholeUpdate() {
    DjlThread.run(() -> {
      try (LayeredModel whole = Models.create("small-cnn", SAMPLE, 4, 9);
          LayeredModel low = Models.create("small-cnn", SAMPLE, 4, 9);
          LayeredModel high = Models.create("small-cnn", SAMPLE, 4, 9);
          NDManager data = whole.manager().newSubManager()) {
        ChannelSlice lowHalf = new ChannelSlice(2, 0, 23);
        ChannelSlice highHalf = new ChannelSlice(2, 23, 64);
        OptimizerSpec sgd = OptimizerSpec.sgd(0.1f);
        SparseTrainer wholeTrainer = new SparseTrainer(whole, UpdateSet.of(4, 2), sgd);
        SparseTrainer lowTrainer = new SparseTrainer(low, List.of(lowHalf), sgd, 0);
        SparseTrainer highTrainer = new SparseTrainer(high, List.of(highHalf), sgd, 0);
        NDArray[] b = batch(data, 16, 3);
        for (SparseTrainer t : List.of(wholeTrainer, lowTrainer, highTrainer)) {
          try (NDManager copy = t.model().manager().newSubManager()) {
            t.forwardBackward(copy.create(b[0].toFloatArray(), b[0].getShape()), copy.create(b[1].toFloatArray()));
            t.step();
          }
        }
        assertArrayEquals(whole.exportWeights(List.of(lowHalf)), low.exportWeights(List.of(lowHalf)));
        assertArrayEquals(whole.exportWeights(List.of(highHalf)), high.exportWeights(List.of(highHalf)));
        assertFalse(Arrays.equals(whole.exportWeights(List.of(highHalf)), low.exportWeights(List.of(highHalf))));
      }
    });
  }

  @Test
  void aScaledLayerStepsThatMuchOfThePlainStepAndTheOthersAsBefore() {
    DjlThread.run(() -> {
      try (LayeredModel plain = Models.create("small-cnn", SAMPLE, 4, 12);
          LayeredModel scaled = Models.create("small-cnn", SAMPLE, 4, 12);
          NDManager data = plain.manager().newSubManager()) {
        OptimizerSpec sgd = OptimizerSpec.sgd(0.1f);
        float[] before = trainable(plain, 2);
        SparseTrainer plainTrainer = new SparseTrainer(plain, plain.wholeLayers(new int[] {2, 3}), sgd, 0);
        SparseTrainer scaledTrainer = new SparseTrainer(scaled, scaled.wholeLayers(new int[] {2, 3}), sgd, 0,
            Map.of(2, 0.25));
        NDArray[] b = batch(data, 16, 5);
        plainTrainer.forwardBackward(b[0], b[1]);
        scaledTrainer.forwardBackward(b[0], b[1]);
        plainTrainer.step();
        scaledTrainer.step();
        float[] plainStep = trainable(plain, 2);
        float[] scaledStep = trainable(scaled, 2);
        int moved = 0;
        for (int i = 0; i < before.length; i++) {
          float full = plainStep[i] - before[i];
          assertEquals(0.25f * full, scaledStep[i] - before[i], 1e-6f + 1e-3f * Math.abs(full), "weight " + i);
          moved += full != 0 ? 1 : 0;
        }
        assertTrue(moved > before.length / 2, "the plain step moved only " + moved + " weights");
        assertArrayEquals(plain.exportWeights(new int[] {3}), scaled.exportWeights(new int[] {3}));
        assertThrows(IllegalArgumentException.class, () -> new SparseTrainer(scaled,
            scaled.wholeLayers(new int[] {3}), sgd, 0, Map.of(3, 0.0)));
        assertThrows(IllegalArgumentException.class, () -> new SparseTrainer(scaled,
            scaled.wholeLayers(new int[] {3}), sgd, 0, Map.of(9, 0.5)));
      }
    });
  }

  @Test
  void aFrozenPrefixRunInMicroBatchesTrainsAndPredictsLikeTheWholeBatch() {
    DjlThread.run(() -> {
      try (LayeredModel whole = Models.create("small-cnn", SAMPLE, 4, 11);
          LayeredModel micro = Models.create("small-cnn", SAMPLE, 4, 11);
          NDManager data = whole.manager().newSubManager()) {
        OptimizerSpec sgd = new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.1f, 0.9f, 0f);
        SparseTrainer wholeTrainer = new SparseTrainer(whole, whole.wholeLayers(new int[] {2, 3}), sgd, 0);
        // 16 samples in micro-batches of 5: the last one is short.
        SparseTrainer microTrainer = new SparseTrainer(micro, micro.wholeLayers(new int[] {2, 3}), sgd, 5);
        for (int step = 0; step < 3; step++) {
          NDArray[] b = batch(data, 16, 20 + step);
          float wholeLoss = wholeTrainer.forwardBackward(b[0], b[1]);
          float microLoss = microTrainer.forwardBackward(b[0], b[1]);
          assertEquals(wholeLoss, microLoss, 1e-5f);
          wholeTrainer.step();
          microTrainer.step();
        }
        float[] expected = whole.exportWeights(new int[] {0, 1, 2, 3});
        float[] actual = micro.exportWeights(new int[] {0, 1, 2, 3});
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], actual[i], 1e-5f, "weight " + i);
        }
        NDArray[] test = batch(data, 23, 99);
        assertEquals(wholeTrainer.correct(test[0], test[1]), microTrainer.correct(test[0], test[1]));
        assertThrows(IllegalArgumentException.class,
            () -> new SparseTrainer(micro, micro.wholeLayers(new int[] {3}), sgd, -1));
      }
    });
  }

  @Test
  void djlWorkOffTheDjlThreadIsRefused() {
    assertThrows(IllegalStateException.class, DjlThread::checkCurrent);
  }

  @Test
  void theOptimizersComputeWhatDjlsOwnComputeBitForBit() {
    DjlThread.run(() -> {
      for (OptimizerKind kind : OptimizerKind.values()) {
        OptimizerSpec spec = new OptimizerSpec(kind, 0.05f, 0.9f, 1e-4f);
        ai.djl.training.optimizer.Optimizer djl = switch (kind) {
          case SGD -> ai.djl.training.optimizer.Optimizer.sgd()
              .setLearningRateTracker(ai.djl.training.tracker.Tracker.fixed(0.05f)).optWeightDecays(1e-4f).build();
          case SGD_MOMENTUM -> ai.djl.training.optimizer.Optimizer.sgd()
              .setLearningRateTracker(ai.djl.training.tracker.Tracker.fixed(0.05f)).optMomentum(0.9f)
              .optWeightDecays(1e-4f).build();
          case ADAM -> ai.djl.training.optimizer.Optimizer.adam()
              .optLearningRateTracker(ai.djl.training.tracker.Tracker.fixed(0.05f)).optWeightDecays(1e-4f).build();
        };
        StatefulOptimizer ours = spec.build();
        try (NDManager manager = NDManager.newBaseManager()) {
          SplittableRandom random = new SplittableRandom(5);
          float[] start = new float[24];
          for (int i = 0; i < start.length; i++) {
            start[i] = (float) random.nextGaussian();
          }
          NDArray theirs = manager.create(start, new Shape(4, 6));
          NDArray mine = manager.create(start, new Shape(4, 6));
          for (int step = 0; step < 5; step++) {
            float[] gradient = new float[24];
            for (int i = 0; i < gradient.length; i++) {
              gradient[i] = (float) random.nextGaussian();
            }
            djl.update("w", theirs, manager.create(gradient, new Shape(4, 6)));
            ours.update("w", mine, manager.create(gradient, new Shape(4, 6)));
          }
          assertFalse(Arrays.equals(start, mine.toFloatArray()), kind + " changed nothing");
          assertArrayEquals(theirs.toFloatArray(), mine.toFloatArray(), kind.toString());
        }
      }
    });
  }

  @Test
  void aTrainerGivenALayersWeightsAndOptimizerStateStepsAsTheOneItCameFrom() {
    DjlThread.run(() -> {
      for (OptimizerKind kind : List.of(OptimizerKind.SGD_MOMENTUM, OptimizerKind.ADAM)) {
        OptimizerSpec spec = new OptimizerSpec(kind, 0.02f, 0.9f, 0);
        int[] updated = {2, 3};
        try (LayeredModel original = Models.create("small-cnn", SAMPLE, 4, 21);
            LayeredModel successor = Models.create("small-cnn", SAMPLE, 4, 99);
            NDManager data = original.manager().newSubManager()) {
          SparseTrainer first = new SparseTrainer(original, UpdateSet.of(4, updated), spec);
          for (int step = 0; step < 2; step++) {
            NDArray[] b = batch(data, 16, step);
            first.forwardBackward(b[0], b[1]);
            first.step();
          }
          int[] all = {0, 1, 2, 3};
          successor.importWeights(all, original.exportWeights(all));
          SparseTrainer second = new SparseTrainer(successor, UpdateSet.of(4, updated), spec);
          List<ChannelSlice> slices = original.wholeLayers(updated);
          float[] state = first.exportOptimizerState(slices);
          assertTrue(state.length > 0 && !Arrays.equals(state, new float[state.length]), kind + ": state after two steps");
          second.importOptimizerState(slices, state, first.optimizerUpdates());
          assertEquals(2, second.optimizerUpdates());
          NDArray[] b = batch(data, 16, 7);
          first.forwardBackward(b[0], b[1]);
          first.step();
          second.forwardBackward(b[0], b[1]);
          second.step();
          assertArrayEquals(original.exportWeights(all), successor.exportWeights(all), kind.toString());
          assertThrows(IllegalStateException.class, () -> second.exportOptimizerState(original.wholeLayers(new int[] {0})),
              "a layer the trainer does not update has no state");
        }
      }
    });
  }

  /** Gradients of one step on the same batch from the same weights, whole batch or micro-batched. */
  private static float[] gradients(int updateMicroBatch, UpdateSet update, int[] layers, float[] loss) {
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 13);
          NDManager data = model.manager().newSubManager()) {
        SparseTrainer trainer = new SparseTrainer(model, model.wholeLayers(update.layers().stream().toArray()),
            OptimizerSpec.sgd(0.1f), 0, updateMicroBatch, java.util.Map.of());
        NDArray[] b = batch(data, 16, 5);
        loss[0] = trainer.forwardBackward(b[0], b[1]);
        return trainer.exportGradients(layers);
      }
    });
  }

  @Test
  void microBatchedGradientsAddUpToTheWholeBatchsWhereBatchNormIsFrozen() {
    // Only the classifier is updated: every BatchNorm below it runs on its running statistics.
    UpdateSet classifier = UpdateSet.of(4, 3);
    float[] wholeLoss = new float[1];
    float[] whole = gradients(0, classifier, new int[] {3}, wholeLoss);
    for (int microBatch : new int[] {4, 5, 8}) {
      float[] loss = new float[1];
      float[] parts = gradients(microBatch, classifier, new int[] {3}, loss);
      assertEquals(wholeLoss[0], loss[0], 1e-5, "micro-batch " + microBatch + ": the batch's mean loss");
      double largest = 0;
      for (float g : whole) {
        largest = Math.max(largest, Math.abs(g));
      }
      for (int i = 0; i < whole.length; i++) {
        // Float reassociation only: every micro-batch's share adds into the same gradient.
        assertEquals(whole[i], parts[i], 1e-5 * largest, "micro-batch " + microBatch + ", element " + i);
      }
    }
  }

  @Test
  void microBatchedUpdatesOfLayersWithBatchNormStillLearn() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 11);
          NDManager data = model.manager().newSubManager()) {
        SparseTrainer trainer = new SparseTrainer(model, model.wholeLayers(new int[] {1, 2, 3}),
            new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.05f, 0.9f, 0f), 0, 8, java.util.Map.of());
        float[] loss = firstAndLastLosses(trainer, data);
        assertTrue(loss[1] < loss[0] * 0.7, "loss " + loss[0] + " -> " + loss[1]);
      }
    });
  }

  @Test
  void aNegativeUpdateMicroBatchIsRefused() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 1)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SparseTrainer(model,
            model.wholeLayers(new int[] {3}), OptimizerSpec.sgd(0.1f), 0, -1, java.util.Map.of()));
        assertTrue(e.getMessage().contains("update micro-batch"), e.getMessage());
      }
    });
  }
}
