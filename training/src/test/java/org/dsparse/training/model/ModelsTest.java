package org.dsparse.training.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

class ModelsTest {

  @Test
  void mobileNetV2SplitsIntoStemSeventeenBlocksLastConvAndClassifier() {
    DjlThread.run(() -> {
      for (Shape sample : List.of(new Shape(1, 28, 28), new Shape(3, 32, 32))) {
        try (LayeredModel model = Models.create("mobilenetv2", sample, 10, 1)) {
          assertEquals(20, model.layerCount());
          assertEquals("stem", model.layer(0).name());
          assertEquals("ir17", model.layer(17).name());
          assertEquals("conv_last", model.layer(18).name());
          assertEquals("classifier", model.layer(19).name());
          List<LayerCost> costs = model.layerCosts();
          long params = costs.stream().mapToLong(LayerCost::trainableParams).sum();
          assertEquals(model.totalParams(), params);
          assertTrue(params > 2_000_000, "MobileNetV2 has ~2.2M parameters, got " + params);
          // Activations concentrate early, parameters late: the premise of sparse update.
          assertTrue(costs.get(1).activationElementsPerSample() > costs.get(17).activationElementsPerSample());
          assertTrue(costs.get(17).trainableParams() > costs.get(1).trainableParams());
          assertEquals(10, costs.get(19).outputChannels());
        }
      }
    });
  }

  @Test
  void sameSeedSameWeights() {
    DjlThread.run(() -> {
      try (LayeredModel a = Models.create("small-cnn", new Shape(1, 12, 12), 4, 5);
          LayeredModel b = Models.create("small-cnn", new Shape(1, 12, 12), 4, 5)) {
        int[] all = {0, 1, 2, 3};
        assertArrayEquals(a.exportWeights(all), b.exportWeights(all));
      }
    });
  }

  @Test
  void weightsRoundTripThroughFlatBuffers() {
    DjlThread.run(() -> {
      try (LayeredModel a = Models.create("small-cnn", new Shape(1, 12, 12), 4, 5);
          LayeredModel b = Models.create("small-cnn", new Shape(1, 12, 12), 4, 6)) {
        int[] layers = {1, 3};
        b.importWeights(layers, a.exportWeights(layers));
        assertArrayEquals(a.exportWeights(layers), b.exportWeights(layers));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> b.importWeights(layers, new float[3]));
        assertTrue(e.getMessage().contains("need"), e.getMessage());
      }
    });
  }

  @Test
  void unknownModelAndLayerNamesAreNamedInTheError() {
    DjlThread.run(() -> {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Models.create("resnet9000", new Shape(1, 28, 28), 10, 1));
      assertTrue(e.getMessage().contains("resnet9000"));
      try (LayeredModel m = Models.create("small-cnn", new Shape(1, 12, 12), 4, 5)) {
        e = assertThrows(IllegalArgumentException.class, () -> m.indexOf("conv9"));
        assertTrue(e.getMessage().contains("conv9") && e.getMessage().contains("conv1"));
      }
    });
  }
}
