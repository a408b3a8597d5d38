package org.dsparse.core.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.core.memory.LayerCost;
import org.junit.jupiter.api.Test;

class ImportanceTest {
  private static final List<LayerCost> LAYERS = MobileNetV2Layers.layers();

  private static double sum(Importance importance) {
    return IntStream.range(0, importance.layerCount()).mapToDouble(importance::weight).sum();
  }

  @Test
  void positionalRisesWithDepthAndSumsToOne() {
    Importance positional = Importance.positional(LAYERS);
    assertEquals(1.0, sum(positional), 1e-12);
    for (int i = 1; i < LAYERS.size(); i++) {
      assertTrue(positional.weight(i) > positional.weight(i - 1));
    }
    assertEquals(LAYERS.size() - 1, positional.order()[0]);
  }

  @Test
  void gradientNormsWeighBySquaredNorm() {
    List<LayerCost> three = LAYERS.subList(0, 3);
    Importance fromNorms = Importance.fromGradientNorms(new double[] {1, 2, 0}, three);
    assertEquals(1.0, sum(fromNorms), 1e-12);
    assertEquals(0.2, fromNorms.weight(0), 1e-12);
    assertEquals(0.8, fromNorms.weight(1), 1e-12);
    assertEquals(0.0, fromNorms.weight(2), 1e-12);
    assertArrayEquals(new int[] {1, 0, 2}, fromNorms.order());
  }

  @Test
  void tiesAreBrokenTowardTheLaterLayer() {
    assertArrayEquals(new int[] {2, 1, 0}, Importance.of(1, 1, 1).order());
  }

  @Test
  void badMeasurementsNameTheLayer() {
    List<LayerCost> two = LAYERS.subList(0, 2);
    String nan = assertThrows(IllegalArgumentException.class,
        () -> Importance.fromGradientNorms(new double[] {1, Double.NaN}, two)).getMessage();
    assertTrue(nan.contains("ir1"), nan);
    assertThrows(IllegalArgumentException.class, () -> Importance.fromGradientNorms(new double[] {1}, two));
    assertThrows(IllegalArgumentException.class, () -> Importance.fromGradientNorms(new double[] {0, 0}, two));
    assertThrows(IllegalArgumentException.class, () -> Importance.of(-1, 2));
    assertThrows(IllegalArgumentException.class, () -> Importance.positional(List.of()));
  }
}
