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
      }
    });
  }
}
