package org.dsparse.training.submodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/** An assembled model's BatchNorm statistics from parts measured apart. */
class BatchNormStatisticsTest {
  @Test
  void partsMeasuredApartAddUpToTheStatisticsOfTheirImagesTogether() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, 4);
          NDManager manager = Engine.getInstance().newBaseManager()) {
        Engine.getInstance().setRandomSeed(2);
        // Two devices whose images differ in brightness: their moments differ, their sum does not care.
        NDArray a = manager.randomUniform(0, 1, new Shape(24, 1, 28, 28));
        NDArray b = manager.randomUniform(0.5f, 2, new Shape(24, 1, 28, 28));
        int length = BatchNormStatistics.length(model);
        assertEquals(1 + 2 * (16 + 32 + 64), length);
        double[] first = new double[length];
        double[] second = new double[length];
        BatchNormStatistics.accumulate(model, a, first);
        BatchNormStatistics.accumulate(model, b, second);
        float[] summed = new float[length];
        for (int i = 0; i < length; i++) {
          summed[i] = (float) (first[i] + second[i]);
        }
        assertEquals(48, summed[length - 1]);
        BatchNormStatistics.absorb(model, summed);

        // The first layer's BatchNorm reads the convolution of the images: its statistics over both sets at once.
        var conv = model.layer(0).block().getChildren().get(0).getValue();
        NDArray both = a.concat(b, 0);
        NDArray convolved = conv.forward(new ai.djl.training.ParameterStore(manager, false),
            new ai.djl.ndarray.NDList(both), false).singletonOrThrow();
        NDArray perChannel = convolved.transpose(1, 0, 2, 3).reshape(16, -1);
        float[] mean = perChannel.mean(new int[] {1}).toFloatArray();
        NDArray centered = perChannel.sub(perChannel.mean(new int[] {1}, true));
        float[] variance = centered.square().mean(new int[] {1}).toFloatArray();
        var norm = model.layer(0).block().getChildren().get(1).getValue();
        float[] runningMean = norm.getParameters().get("runningMean").getArray().toFloatArray();
        float[] runningVariance = norm.getParameters().get("runningVar").getArray().toFloatArray();
        for (int c = 0; c < 16; c++) {
          assertEquals(mean[c], runningMean[c], 1e-4 * (1 + Math.abs(mean[c])), "mean of channel " + c);
          assertEquals(variance[c], runningVariance[c], 1e-3 * (1 + variance[c]), "variance of channel " + c);
        }
        assertThrows(IllegalArgumentException.class, () -> BatchNormStatistics.absorb(model, new float[length - 1]));
        assertThrows(IllegalArgumentException.class, () -> BatchNormStatistics.absorb(model, new float[length]));
      }
    });
  }
}
