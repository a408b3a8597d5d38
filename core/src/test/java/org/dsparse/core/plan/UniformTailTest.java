package org.dsparse.core.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.junit.jupiter.api.Test;

class UniformTailTest {
  private static final int BATCH = 32;
  private static final OptimizerKind OPTIMIZER = OptimizerKind.SGD_MOMENTUM;
  private static final MemoryModel MOBILENET = MobileNetV2Layers.model();
  private static final int LAYERS = MOBILENET.layers().size();
  private static final PlannerSettings UNIFORM = PlannerSettings.defaults(BATCH, OPTIMIZER)
      .withStrategy(PlanStrategy.UNIFORM_TAIL);
  private static final long FULL = MOBILENET.fullUpdateBytes(BATCH, OPTIMIZER);

  private static long suffixPeak(int first) {
    return MOBILENET.predict(UpdateSet.of(LAYERS, IntStream.range(first, LAYERS).toArray()), BATCH, OPTIMIZER)
        .totalBytes();
  }

  /** Seven devices from 45% to 100% of the full update, the smallest listed last. */
  private static List<DeviceBudget> graded() {
    List<DeviceBudget> budgets = new ArrayList<>();
    for (int i = 6; i >= 0; i--) {
      budgets.add(new DeviceBudget("dev" + i, Math.round(FULL * (0.45 + 0.55 * i / 6.0))));
    }
    return budgets;
  }

  private static Plan plan(List<DeviceBudget> budgets) {
    return Planner.plan(MOBILENET, budgets, Importance.positional(MOBILENET.layers()), UNIFORM);
  }

  @Test
  void theTailIsTheLongestSuffixThatFitsTheSmallestBudget() {
    Plan plan = plan(graded());
    long smallest = Math.round(FULL * 0.45);
    int first = plan.device("dev0").update().firstUpdated();
    assertTrue(first > 0 && first < LAYERS - 1, "a tail between the classifier and the whole network: " + first);
    assertEquals(LAYERS - first, plan.device("dev0").update().count(), "a suffix: " + plan.describe());
    assertTrue(suffixPeak(first) <= smallest, plan.describe());
    for (int longer = first - 1; longer >= 0; longer--) {
      assertTrue(suffixPeak(longer) > smallest, "a longer tail from layer " + longer + " fits too: " + plan.describe());
    }
  }

  @Test
  void everyDeviceUpdatesTheSameTailInOneGroupAndTheLayersBelowAreFrozen() {
    Plan plan = plan(graded());
    UpdateSet tail = plan.device("dev0").update();
    // The largest device could hold every layer; it updates the tail all the same.
    plan.devices().forEach(d -> assertEquals(tail, d.update(), d.device()));
    assertEquals(1, plan.groups().size(), plan.describe());
    ProcessGroupSpec group = plan.groups().get(0);
    assertEquals(7, group.updaters().size());
    assertEquals(ProcessGroupSpec.Kind.ALL_REDUCE, group.kind());
    assertEquals(tail.layers().stream().boxed().toList(), group.slices().stream().map(LayerSlice::layer).toList());
    assertTrue(group.slices().stream().allMatch(LayerSlice::whole), plan.describe());
    int first = tail.firstUpdated();
    assertEquals(IntStream.range(0, first).boxed().toList(), plan.frozen().stream().map(FrozenLayer::layer).toList());
    for (FrozenLayer f : plan.frozen()) {
      assertTrue(f.reason().contains("frozen on every device") && f.reason().contains("dev0"), f.reason());
    }
    assertFalse(PlanStrategy.UNIFORM_TAIL.coversEveryLayer());
    assertTrue(PlanStrategy.SHARED_TAIL.coversEveryLayer());
    // The description says which layers are frozen, in one line.
    String text = plan.describe();
    assertTrue(text.startsWith("Plan (uniform-tail)"), text);
    List<String> frozenLines = text.lines().filter(l -> l.startsWith("frozen ")).toList();
    assertEquals(1, frozenLines.size(), text);
    assertTrue(frozenLines.get(0).startsWith("frozen 0-" + (first - 1) + " (stem, ir1, "), text);
  }

  @Test
  void theSameBudgetsInAnyOrderGiveTheSamePlanAndAmpleBudgetsTheWholeNetwork() {
    List<DeviceBudget> reversed = new ArrayList<>(graded());
    java.util.Collections.reverse(reversed);
    assertEquals(plan(graded()), plan(reversed));
    Plan ample = plan(List.of(new DeviceBudget("a", FULL), new DeviceBudget("b", 2 * FULL)));
    assertTrue(ample.frozen().isEmpty(), ample.describe());
    ample.devices().forEach(d -> assertEquals(UpdateSet.all(LAYERS), d.update()));
  }

  @Test
  void aBudgetTooSmallForEvenTheClassifierIsRefusedNamingTheDevice() {
    long classifier = suffixPeak(LAYERS - 1);
    List<DeviceBudget> budgets = new ArrayList<>(graded());
    budgets.add(new DeviceBudget("tiny-phone", classifier - 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> plan(budgets));
    assertTrue(e.getMessage().startsWith("uniform-tail: device tiny-phone's budget"), e.getMessage());
    assertTrue(e.getMessage().contains("classifier"), e.getMessage());
    // The classifier alone, exactly at the budget, is a tail of one layer.
    budgets.set(budgets.size() - 1, new DeviceBudget("tiny-phone", classifier));
    Plan plan = plan(budgets);
    plan.devices().forEach(d -> assertEquals(UpdateSet.of(LAYERS, LAYERS - 1), d.update(), d.device()));
  }

  @Test
  void layersWithoutWeightsInTheTailAreNeitherPlannedNorFrozen() {
    List<LayerCost> layers = List.of(new LayerCost("conv", 10_000, 0, 100, 50, 150, 16),
        new LayerCost("pool", 0, 0, 50, 10, 60, 16), new LayerCost("fc", 2_000, 0, 10, 10, 20, 10));
    MemoryModel model = new MemoryModel(layers, MemoryCoefficients.NOMINAL);
    long fcOnly = model.predict(UpdateSet.of(3, 2), BATCH, OPTIMIZER).totalBytes();
    long all = model.predict(UpdateSet.of(3, 0, 2), BATCH, OPTIMIZER).totalBytes();
    assertTrue(fcOnly < all);
    Plan plan = Planner.plan(model, List.of(new DeviceBudget("a", all), new DeviceBudget("b", fcOnly)),
        Importance.positional(layers), UNIFORM);
    plan.devices().forEach(d -> assertEquals(UpdateSet.of(3, 2), d.update(), plan.describe()));
    assertEquals(List.of(0), plan.frozen().stream().map(FrozenLayer::layer).toList(), plan.describe());
  }

  @Test
  void theStrategyParsesFromItsConfigurationName() {
    assertEquals(PlanStrategy.UNIFORM_TAIL, PlanStrategy.parse("uniform-tail"));
    assertEquals("uniform-tail", PlanStrategy.UNIFORM_TAIL.key());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> PlanStrategy.parse("tail")).getMessage()
        .contains("uniform-tail"));
  }
}
