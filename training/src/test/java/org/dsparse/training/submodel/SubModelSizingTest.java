package org.dsparse.training.submodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/** A device's sub-model is the largest that fits its memory and its share of the computation. */
class SubModelSizingTest {
  @Test
  void theLargestSubModelWithinBothBudgets() {
    DjlThread.run(() -> {
      try (LayeredModel full = Models.create("small-cnn", new Shape(1, 28, 28), 10, 2);
          NDManager manager = Engine.getInstance().newBaseManager()) {
        Engine.getInstance().setRandomSeed(1);
        NDArray images = manager.randomUniform(0, 1, new Shape(40, 1, 28, 28));
        int[] labels = new int[40];
        for (int i = 0; i < labels.length; i++) {
          labels[i] = i % 10;
        }
        double[][][] relevance = SubModels.relevance(full, images, labels);
        assertEquals(16, relevance[0].length);
        assertEquals(10, relevance[2][0].length);
        MemoryModel memory = new MemoryModel(full.layerCosts(), MemoryCoefficients.NOMINAL);
        int[] classes = {2, 5, 7};
        SubModelSizing.Sized whole = SubModelSizing.size(full, relevance, classes, Long.MAX_VALUE, 1, memory, 32,
            OptimizerKind.SGD_MOMENTUM);
        assertEquals(1.0, whole.keep());
        SubModelSizing.Sized third = SubModelSizing.size(full, relevance, classes, Long.MAX_VALUE, 1.0 / 3, memory, 32,
            OptimizerKind.SGD_MOMENTUM);
        assertTrue(third.computeShare() <= 1.0 / 3 && third.keep() < 1, third.toString());
        // The next larger share would have cost more than a third.
        SubModelSizing.Sized tight = SubModelSizing.size(full, relevance, classes, third.predictedPeakBytes(), 1, memory,
            32, OptimizerKind.SGD_MOMENTUM);
        assertEquals(third.keep(), tight.keep(), "the memory budget of the third's sub-model allows that one");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> SubModelSizing.size(full,
            relevance, classes, 1000, 1, memory, 32, OptimizerKind.SGD_MOMENTUM));
        assertTrue(none.getMessage().contains("budget 1000"), none.getMessage());
        for (double share = 0.1; share <= 1; share += 0.05) {
          int[] widths = SubModelSizing.size(full, relevance, classes, Long.MAX_VALUE, share, memory, 32,
              OptimizerKind.SGD_MOMENTUM).spec().widths();
          for (int l = 1; l < widths.length; l++) {
            assertEquals(0, widths[l] % SubModelSizing.FILTER_MULTIPLE, "share " + share + ": widths "
                + java.util.Arrays.toString(widths));
          }
        }
      }
    });
  }

  /**
   * The gradients of a step of the smallest sub-models sizing gives do not depend on what the memory
   * PyTorch hands out held before: between forward and backward, tensors full of NaN are made and
   * freed. (With 6, 12 and 24 filters the input gradients of the upper convolutions come out NaN:
   * see {@link SubModelSizing#FILTER_MULTIPLE}.)
   */
  @Test
  void aSizedSubModelsGradientsDoNotDependOnFreedMemory() {
    DjlThread.run(() -> {
      try (LayeredModel sub = Models.narrow("small-cnn", new Shape(1, 28, 28), new int[] {6, 16, 32}, 3, 5);
          NDManager manager = Engine.getInstance().newBaseManager()) {
        Engine.getInstance().setRandomSeed(3);
        NDArray x = manager.randomNormal(new Shape(32, 1, 28, 28));
        NDArray y = manager.randomInteger(0, 3, new Shape(32), ai.djl.ndarray.types.DataType.INT32)
            .toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        float[] quiet = gradients(sub, x, y, null);
        float[] churned = gradients(sub, x, y, manager);
        for (int i = 0; i < quiet.length; i++) {
          assertTrue(Float.isFinite(churned[i]), "gradient " + i + " is " + churned[i]);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(quiet, churned);
      }
    });
  }

  /** A step's gradients of every layer, with NaN tensors made and freed between forward and backward when {@code churn} is given. */
  private static float[] gradients(LayeredModel model, NDArray x, NDArray y, NDManager churn) {
    ai.djl.training.ParameterStore store = new ai.djl.training.ParameterStore(model.manager(), false);
    for (var layer : model.layers()) {
      for (var p : layer.trainable()) {
        p.getArray().setRequiresGradient(true);
      }
    }
    try (ai.djl.training.GradientCollector collector = org.dsparse.training.trainer.Recording.start()) {
      ai.djl.ndarray.NDList h = new ai.djl.ndarray.NDList(x);
      for (var layer : model.layers()) {
        h = layer.block().forward(store, h, true);
      }
      NDArray loss = ai.djl.training.loss.Loss.softmaxCrossEntropyLoss().evaluate(new ai.djl.ndarray.NDList(y), h);
      if (churn != null) {
        java.util.List<NDArray> garbage = new java.util.ArrayList<>();
        for (int k = 0; k < 300; k++) {
          garbage.add(churn.ones(new Shape(1 + k % 64)).mul(Float.NaN));
          garbage.add(churn.ones(new Shape(32, 16, 1 + k % 14, 14)).mul(Float.NaN));
        }
        garbage.forEach(NDArray::close);
      }
      collector.backward(loss);
    }
    java.util.List<Float> all = new java.util.ArrayList<>();
    for (var layer : model.layers()) {
      for (var p : layer.trainable()) {
        try (NDArray g = p.getArray().getGradient()) {
          for (float v : g.toFloatArray()) {
            all.add(v);
          }
          g.subi(g);
        }
      }
    }
    float[] out = new float[all.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = all.get(i);
    }
    return out;
  }
}
