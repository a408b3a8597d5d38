package org.dsparse.training.tiling;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.tiling.Span;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A tile group computes the same step as the untiled layers: outputs, the input's gradient, every
 * weight's gradient and BatchNorm's running statistics, for k = 2, 3 and 4 tiles on odd image sizes
 * (MobileNetV2's first five layers: the strided stem, a residual block, two strided blocks).
 * Both run in float64 (BatchNorm's backward subtracts sums of thousands of terms, which float32
 * leaves exact to about 1e-7 of the terms, far from the result's own size), so each tensor must agree
 * within 1e-9 of its largest magnitude; a halo or padding off by one row is off by far more.
 */
class TiledExactnessTest {
  private static final double TOLERANCE = 1e-9;

  @ParameterizedTest(name = "{0}, first {1} layers, {2}x{3} input, {4}x{5} tiles")
  @CsvSource({
      "small-cnn, 3, 29, 31, 2, 1",
      "small-cnn, 3, 29, 31, 1, 3",
      "small-cnn, 3, 29, 31, 2, 2",
      "mobilenetv2, 5, 45, 39, 2, 1",
      "mobilenetv2, 5, 45, 39, 3, 1",
      "mobilenetv2, 5, 45, 39, 2, 2",
      "mobilenetv2, 5, 45, 39, 1, 4",
  })
  void tilesComputeTheUntiledStep(String modelName, int layerCount, int height, int width, int rows, int columns) {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create(modelName, new Shape(1, height, width), 10, 3);
          NDManager manager = Engine.getInstance().newBaseManager()) {
        List<Layer> layers = model.layers().subList(0, layerCount);
        toDoubles(layers);
        Engine.getInstance().setRandomSeed(5);
        NDArray x = manager.randomNormal(new Shape(3, 1, height, width)).toType(DataType.FLOAT64, false);
        List<Parameter> parameters = new ArrayList<>();
        List<Parameter> running = new ArrayList<>();
        for (Layer layer : layers) {
          parameters.addAll(layer.trainable());
          running.addAll(layer.buffers());
        }
        List<double[]> runningBefore = values(running);

        // Untiled.
        double[] expectedOut;
        double[] expectedInputGradient;
        NDArray outputGradient;
        Shape outShape;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          NDArray in = x.duplicate();
          in.setRequiresGradient(true);
          NDList h = new NDList(in);
          ParameterStore store = new ParameterStore(manager, false);
          for (Layer layer : layers) {
            h = layer.block().forward(store, h, true);
          }
          NDArray out = h.singletonOrThrow();
          outShape = out.getShape();
          outputGradient = manager.randomNormal(outShape).toType(DataType.FLOAT64, false);
          collector.backward(out.mul(outputGradient).sum());
          expectedOut = out.toDoubleArray();
          expectedInputGradient = in.getGradient().toDoubleArray();
        }
        List<double[]> expectedGradients = gradients(parameters);
        List<double[]> expectedRunning = values(running);
        zeroGradients(parameters);
        restore(running, runningBefore);

        // Tiled.
        TiledGroup group = TiledGroup.of(layers, 1, height, width);
        TileGeometry geometry = group.geometry(rows, columns);
        NDArray out = manager.zeros(outShape, DataType.FLOAT64);
        NDArray inputGradient = manager.zeros(x.getShape(), DataType.FLOAT64);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          List<TileStep> tiles = new ArrayList<>();
          for (int t = 0; t < geometry.tiles(); t++) {
            tiles.add(new TileStep(group, geometry, t, collector, t == 0, manager));
          }
          for (TileStep tile : tiles) {
            tile.begin(x.get(index(tile.inputRows(), tile.inputColumns())));
          }
          while (tiles.get(0).waitsForStatistics()) {
            double[] totals = sum(tiles.stream().map(TileStep::statistics).toList());
            for (TileStep tile : tiles) {
              tile.resume(totals);
            }
          }
          for (int t = 0; t < tiles.size(); t++) {
            TileGeometry.Piece own = geometry.owned(t);
            NDIndex at = index(own.outRows(), own.outColumns());
            out.set(at, tiles.get(t).output());
            tiles.get(t).backward(outputGradient.get(at));
          }
          while (tiles.get(0).waitsForGradientSums()) {
            double[] totals = sum(tiles.stream().map(TileStep::gradientSums).toList());
            for (TileStep tile : tiles) {
              tile.resumeBackward(totals);
            }
          }
          for (TileStep tile : tiles) {
            assertTrue(tile.done());
            NDIndex at = index(tile.inputRows(), tile.inputColumns());
            inputGradient.set(at, inputGradient.get(at).add(tile.inputGradient()));
            tile.close();
          }
        }
        String what = modelName + " " + height + "x" + width + " in " + rows + "x" + columns + " tiles: ";
        close(what + "output", expectedOut, out.toDoubleArray());
        close(what + "input gradient", expectedInputGradient, inputGradient.toDoubleArray());
        List<double[]> tiledGradients = gradients(parameters);
        for (int p = 0; p < parameters.size(); p++) {
          close(what + "gradient of " + parameters.get(p).getName(), expectedGradients.get(p), tiledGradients.get(p));
        }
        List<double[]> tiledRunning = values(running);
        for (int p = 0; p < running.size(); p++) {
          close(what + running.get(p).getName(), expectedRunning.get(p), tiledRunning.get(p));
        }
      }
    });
  }

  /** The layers' tensors in float64, the trained ones recording gradients again. */
  static void toDoubles(List<Layer> layers) {
    try {
      Field array = Parameter.class.getDeclaredField("array");
      array.setAccessible(true);
      for (Layer layer : layers) {
        for (Parameter p : layer.tensors()) {
          NDArray doubles = p.getArray().toType(DataType.FLOAT64, true);
          array.set(p, doubles);
          if (layer.trainable().contains(p)) {
            doubles.setRequiresGradient(true);
          }
        }
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static NDIndex index(Span rows, Span columns) {
    return new NDIndex(":, :, {}:{}, {}:{}", rows.from(), rows.to(), columns.from(), columns.to());
  }

  private static double[] sum(List<double[]> parts) {
    double[] total = new double[parts.get(0).length];
    for (double[] p : parts) {
      for (int i = 0; i < total.length; i++) {
        total[i] += p[i];
      }
    }
    return total;
  }

  private static List<double[]> values(List<Parameter> parameters) {
    return parameters.stream().map(p -> p.getArray().toDoubleArray()).toList();
  }

  private static List<double[]> gradients(List<Parameter> parameters) {
    return parameters.stream().map(p -> p.getArray().getGradient().toDoubleArray()).toList();
  }

  private static void zeroGradients(List<Parameter> parameters) {
    for (Parameter p : parameters) {
      NDArray g = p.getArray().getGradient();
      g.subi(g);
    }
  }

  private static void restore(List<Parameter> parameters, List<double[]> values) {
    for (int i = 0; i < parameters.size(); i++) {
      NDArray a = parameters.get(i).getArray();
      try (NDManager scratch = a.getManager().newSubManager()) {
        a.subi(a).addi(scratch.create(values.get(i), a.getShape()));
      }
    }
  }

  private static void close(String what, double[] expected, double[] actual) {
    assertTrue(expected.length == actual.length, what + ": " + actual.length + " values, not " + expected.length);
    double scale = 0;
    double worst = 0;
    int at = -1;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    for (int i = 0; i < expected.length; i++) {
      double d = Math.abs(expected[i] - actual[i]);
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    assertTrue(worst <= TOLERANCE * scale + 1e-6, what + ": off by " + worst + " at " + at + " (expected "
        + (at >= 0 ? expected[at] : 0) + ", got " + (at >= 0 ? actual[at] : 0) + "), largest magnitude " + scale);
  }
}
