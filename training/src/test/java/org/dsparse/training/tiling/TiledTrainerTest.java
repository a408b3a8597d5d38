package org.dsparse.training.tiling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;
import org.dsparse.training.trainer.StatefulOptimizer;
import org.junit.jupiter.api.Test;

/**
 * MobileNetV2 with its first three layers tiled over two members, the head running the rest of the
 * network: a step trains as one device's does (loss, every weight and running statistic after the
 * update), and over three steps the members' tiled layers stay identical bit for bit. In float64
 * apart from the exchanges (float32 on the wire): in float32, MobileNetV2's gradients differ by up
 * to a percent between two summation orders (BatchNorm channels of tiny variance amplify rounding),
 * and from the second step on so do one device's and the tile group's, which would hide a bug.
 */
class TiledTrainerTest {
  /** One device's step on the whole network: forward, backward, the optimizer. */
  private static float referenceStep(LayeredModel reference, StatefulOptimizer optimizer, NDArray x, NDArray labels,
      NDManager manager) {
    float loss;
    try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
      NDList h = new NDList(x);
      ParameterStore store = new ParameterStore(manager, false);
      for (Layer layer : reference.layers()) {
        h = layer.block().forward(store, h, true);
      }
      NDArray value = Loss.softmaxCrossEntropyLoss().evaluate(new NDList(labels), h);
      c.backward(value);
      loss = value.toType(DataType.FLOAT32, false).getFloat();
    }
    for (Layer layer : reference.layers()) {
      for (Parameter p : layer.trainable()) {
        try (NDArray grad = p.getArray().getGradient()) {
          optimizer.update(p.getId(), p.getArray(), grad);
          grad.subi(grad);
        }
      }
    }
    return loss;
  }

  /**
   * Weights and running statistics within 1e-4 of each tensor's largest magnitude; tensors whose
   * values are all below 1e-4 (a BatchNorm shift that the next BatchNorm cancels gets gradients of
   * rounding noise only) are left out.
   */
  private static void assertClose(String what, Layer expected, Layer actual) {
    for (int p = 0; p < expected.tensors().size(); p++) {
      double[] e = expected.tensors().get(p).getArray().toDoubleArray();
      double[] a = actual.tensors().get(p).getArray().toDoubleArray();
      double worst = 0;
      double scale = 0;
      for (int i = 0; i < e.length; i++) {
        worst = Math.max(worst, Math.abs(e[i] - a[i]));
        scale = Math.max(scale, Math.abs(e[i]));
      }
      assertTrue(scale < 1e-4 || worst <= 1e-4 * scale, what + " " + expected.tensors().get(p).getName() + " off by "
          + worst + " of " + scale);
    }
  }

  @Test
  void tiledTrainingFollowsOneDevice() {
    int size = 56;
    DjlThread.run(() -> {
      OptimizerSpec optimizer = new OptimizerSpec(OptimizerKind.SGD_MOMENTUM, 0.05f, 0.9f, 0);
      List<LayeredModel> models = new ArrayList<>();
      try (NDManager manager = Engine.getInstance().newBaseManager()) {
        for (int m = 0; m < 3; m++) {
          models.add(Models.create("mobilenetv2", new Shape(1, size, size), 10, 3));
          TiledExactnessTest.toDoubles(models.get(m).layers());
        }
        LayeredModel reference = models.get(2);
        StatefulOptimizer referenceOptimizer = optimizer.build();
        TiledStepTest.InMemoryTiles tiles = new TiledStepTest.InMemoryTiles(2);
        Executor direct = Runnable::run;
        List<TiledTrainer> members = new ArrayList<>();
        for (int m = 0; m < 2; m++) {
          LayeredModel model = models.get(m);
          // The head updates every layer, the other member the three tiled ones.
          SparseTrainer trainer = new SparseTrainer(model, m == 0 ? UpdateSet.all(model.layerCount())
              : UpdateSet.of(model.layerCount(), 0, 1, 2), optimizer);
          members.add(new TiledTrainer(trainer, List.of(new TilingCostModel.Group(0, 1),
              new TilingCostModel.Group(1, 3)), new TilingCostModel.Grid(1, 2), new Shape(1, size, size), m));
        }
        Engine.getInstance().setRandomSeed(4);
        for (int step = 0; step < 3; step++) {
          NDArray x = manager.randomNormal(new Shape(4, 1, size, size)).toType(DataType.FLOAT64, false);
          NDArray labels = manager.create(new float[] {1, 3, 5, 7});
          float expected = Float.NaN;
          if (step == 0) {
            expected = referenceStep(reference, referenceOptimizer, x, labels, manager);
          }
          List<CompletionStage<Float>> done = new ArrayList<>();
          try (NDManager stepManager = manager.newSubManager()) {
            for (int m = 0; m < 2; m++) {
              done.add(members.get(m).step(x, labels, tiles.member(m), direct, stepManager, new int[0],
                  (segment, nanos) -> { }, TiledStep.WeightGradients.SUMMED));
            }
            float loss = done.get(0).toCompletableFuture().join();
            assertTrue(Float.isNaN(done.get(1).toCompletableFuture().join()), "only the head has the loss");
            if (step == 0) {
              assertEquals(expected, loss, 1e-6 * Math.abs(expected));
            }
          }
          members.forEach(member -> member.trainer().step());
          if (step == 0) {
            // One update: every weight as one device's, to the float32 rounding of the exchanges.
            for (int l = 0; l < reference.layerCount(); l++) {
              for (int m = 0; m < 2; m++) {
                if (m == 0 || l < 3) {
                  assertClose("member " + m + " layer " + l, reference.layer(l), models.get(m).layer(l));
                }
              }
            }
          }
          // The tiled layers stay the same on every member, bit for bit: the same summed gradients.
          for (int l = 0; l < 3; l++) {
            List<Parameter> head = models.get(0).layer(l).trainable();
            List<Parameter> other = models.get(1).layer(l).trainable();
            for (int p = 0; p < head.size(); p++) {
              assertTrue(java.util.Arrays.equals(head.get(p).getArray().toDoubleArray(),
                  other.get(p).getArray().toDoubleArray()), "step " + step + ": layer " + l + " "
                  + head.get(p).getName() + " differs between the members");
            }
          }
        }
      } finally {
        models.forEach(LayeredModel::close);
      }
    });
  }
}
