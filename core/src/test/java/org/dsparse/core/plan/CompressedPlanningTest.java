package org.dsparse.core.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.dsparse.core.compression.Compression;
import org.dsparse.core.memory.OptimizerKind;
import org.junit.jupiter.api.Test;

class CompressedPlanningTest {
  private static final CommunicationModel EDGE = new CommunicationModel(0.0005, 6.25e6);

  @Test
  void compressedAggregationCostsWhatItsBytesDoPlusItsExtraRounds() {
    long bytes = 14_000_000;
    double dense = EDGE.allReduceSeconds(7, bytes);
    Compression sketch = new Compression(Compression.Kind.SKETCH, 50, 3, 0, 0);
    Compression topk = new Compression(Compression.Kind.TOPK, 50, 1, 0, 0);
    double sketched = EDGE.gradientAggregationSeconds(7, bytes, sketch);
    double topped = EDGE.gradientAggregationSeconds(7, bytes, topk);
    // The bytes 50 times fewer; the latency: the sketch's two rings, Top-k's one AllGather ring.
    double wire = 2.0 * 6 / 7 * bytes / 50 / 6.25e6;
    assertEquals(wire + 2 * 2 * 6 * 0.0005, sketched, wire * 0.01);
    assertEquals(wire + 6 * 0.0005, topped, wire * 0.01);
    assertTrue(sketched < dense / 40 && topped < dense / 40);
    assertEquals(dense, EDGE.gradientAggregationSeconds(7, bytes, Compression.NONE));
    // A payload below min-floats travels dense, and costs as much.
    Compression floor = new Compression(Compression.Kind.SKETCH, 50, 3, 0, 10_000_000);
    assertEquals(dense, EDGE.gradientAggregationSeconds(7, bytes, floor));
  }

  @Test
  void thePlannerCountsTheCompressorsMemoryAndFitsItInTheBudgets() {
    Compression sketch = new Compression(Compression.Kind.SKETCH, 50, 3, 0, 0);
    PlannerSettings settings = PlannerSettings.defaults(32, OptimizerKind.SGD_MOMENTUM).withCompression(sketch);
    var model = MobileNetV2Layers.model().withCompression(sketch);
    long full = model.fullUpdateBytes(32, OptimizerKind.SGD_MOMENTUM);
    assertTrue(full > MobileNetV2Layers.model().fullUpdateBytes(32, OptimizerKind.SGD_MOMENTUM));
    List<DeviceBudget> budgets = List.of(new DeviceBudget("a", full), new DeviceBudget("b", full / 2),
        new DeviceBudget("c", full / 3));
    Plan plan = Planner.plan(model, budgets, Importance.positional(MobileNetV2Layers.layers()), settings);
    for (DeviceBudget budget : budgets) {
      DeviceAssignment assignment = plan.device(budget.device());
      long predicted = model.predict(assignment.update(), 32, OptimizerKind.SGD_MOMENTUM).totalBytes();
      assertEquals(predicted, assignment.predictedPeakBytes(), "the plan's peak is the compressed model's");
      assertTrue(predicted <= budget.budgetBytes(), budget.device() + ": " + predicted + " over "
          + budget.budgetBytes());
    }
  }
}
