package org.dsparse.training.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.basicmodelzoo.cv.classification.MobileNetV2;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

class GcSafeRelu6Test {
  private static final Shape SAMPLE = new Shape(1, 28, 28);

  @Test
  void everyReLU6OfDjlsMobileNetV2IsReplaced() {
    DjlThread.run(() -> {
      try (NDManager manager = Engine.getInstance().newBaseManager()) {
        // One after the stem, two in each of the 17 inverted-residual blocks, one after the last conv.
        assertEquals(36, GcSafeRelu6.install(MobileNetV2.builder().setOutSize(10).build(), manager));
      }
    });
  }

  @Test
  void gradientsSurviveAGarbageCollectionBetweenForwardAndBackward() {
    float[] undisturbed = lastConvGradient(false);
    float[] collected = lastConvGradient(true);
    assertArrayEquals(undisturbed, collected, "a collection between forward and backward changed the gradient");
  }

  /**
   * The gradient of the last 1x1 convolution's weights (behind a ReLU6) for a fixed batch; with
   * {@code collect}, garbage is collected and Java direct memory reallocated between forward and backward.
   */
  private static float[] lastConvGradient(boolean collect) {
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create("mobilenetv2", SAMPLE, 10, 3);
          NDManager data = model.manager().newSubManager()) {
        SplittableRandom random = new SplittableRandom(5);
        float[] pixels = new float[4 * 784];
        for (int i = 0; i < pixels.length; i++) {
          pixels[i] = (float) random.nextDouble();
        }
        NDList x = new NDList(NativeFloats.tensor(data, pixels, 0, new Shape(4, 1, 28, 28)));
        ParameterStore parameters = new ParameterStore(model.manager(), false);
        int lastConv = model.layerCount() - 2;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          for (int i = 0; i < model.layerCount(); i++) {
            x = model.layer(i).block().forward(parameters, x, true);
          }
          if (collect) {
            reuseFreedDirectMemory();
          }
          collector.backward(x.singletonOrThrow().sum());
        }
        try (NDArray gradient = model.layer(lastConv).trainable().get(0).getArray().getGradient()) {
          return gradient.toFloatArray();
        }
      }
    });
  }

  /**
   * Collects garbage so that unreachable direct buffers are freed, then allocates small ones, which
   * Java zeroes: a freed scalar 6 reused this way reads 0, and ReLU6 then passes no gradient.
   */
  private static void reuseFreedDirectMemory() throws InterruptedException {
    List<ByteBuffer> junk = new ArrayList<>();
    for (int round = 0; round < 3; round++) {
      System.gc();
      Thread.sleep(50); // the cleaner thread frees the collected buffers' memory
      for (int i = 0; i < 2000; i++) {
        junk.add(ByteBuffer.allocateDirect(4 + (i % 4) * 4));
      }
    }
  }
}
