package org.dsparse.core.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class PlannerTest {
  private static final int BATCH = 32;
  private static final OptimizerKind OPTIMIZER = OptimizerKind.SGD_MOMENTUM;
  private static final MemoryModel MOBILENET = MobileNetV2Layers.model();
  private static final Importance POSITIONAL = Importance.positional(MOBILENET.layers());
  private static final PlannerSettings DEFAULTS = PlannerSettings.defaults(BATCH, OPTIMIZER);
  private static final long FULL = MOBILENET.fullUpdateBytes(BATCH, OPTIMIZER);

  /** Seven devices from 20% to 100% of the full update's peak, as in the DSparse re-run. */
  private static List<DeviceBudget> graded() {
    List<DeviceBudget> budgets = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      budgets.add(new DeviceBudget("dev" + i, Math.round(FULL * (0.2 + 0.8 * i / 6.0))));
    }
    return budgets;
  }

  private static Plan plan(List<DeviceBudget> budgets, PlanStrategy strategy) {
    return Planner.plan(MOBILENET, budgets, POSITIONAL, DEFAULTS.withStrategy(strategy));
  }

  private static final java.util.Map<PlanStrategy, Plan> GRADED_PLANS =
      new java.util.EnumMap<>(PlanStrategy.class);

  /** The graded plans are asserted on from several angles; planning them once keeps tests quick. */
  private static synchronized Plan gradedPlan(PlanStrategy strategy) {
    return GRADED_PLANS.computeIfAbsent(strategy, s -> plan(graded(), s));
  }

  @ParameterizedTest
  @EnumSource(PlanStrategy.class)
  void everyDeviceFitsItsBudgetByTheMemoryModel(PlanStrategy strategy) {
    Plan plan = gradedPlan(strategy);
    for (DeviceAssignment d : plan.devices()) {
      long predicted = MOBILENET.predict(d.update(), BATCH, OPTIMIZER).totalBytes();
      assertEquals(predicted, d.predictedPeakBytes(), d.device());
      assertTrue(predicted <= d.budgetBytes(), d.device() + " predicted " + predicted + " > " + d.budgetBytes());
    }
  }

  @ParameterizedTest
  // A uniform tail leaves the layers below it frozen by design (UniformTailTest).
  @EnumSource(value = PlanStrategy.class, names = "UNIFORM_TAIL", mode = EnumSource.Mode.EXCLUDE)
  void everyLayerIsCoveredByDisjointSlicesSpanningItsChannels(PlanStrategy strategy) {
    Plan plan = gradedPlan(strategy);
    assertTrue(plan.frozen().isEmpty(), plan.describe());
    assertCoveredExactly(plan, MOBILENET);
  }

  private static void assertCoveredExactly(Plan plan, MemoryModel model) {
    for (int l = 0; l < model.layers().size(); l++) {
      int layer = l;
      List<ChannelRange> ranges = new ArrayList<>(plan.groups().stream()
          .flatMap(g -> g.slices().stream()).filter(s -> s.layer() == layer)
          .map(LayerSlice::channels).toList());
      ranges.sort((a, b) -> Integer.compare(a.from(), b.from()));
      int next = 0;
      for (ChannelRange r : ranges) {
        assertEquals(next, r.from(), "layer " + l + " slices overlap or leave a gap: " + ranges);
        next = r.to();
      }
      assertEquals(Math.max(1, model.layers().get(l).outputChannels()), next,
          "layer " + l + " slices end short: " + ranges);
    }
  }

  /**
   * Layers a tile group trains are left out: no device of the plan updates them, every layer above
   * them is covered, and the memory model counts them as each device's frozen prefix.
   */
  @ParameterizedTest
  // A uniform tail leaves the layers below it frozen by design (UniformTailTest).
  @EnumSource(value = PlanStrategy.class, names = "UNIFORM_TAIL", mode = EnumSource.Mode.EXCLUDE)
  void layersBelowThePlannedOnesAreLeftToTheTileGroup(PlanStrategy strategy) {
    int tiled = 7;
    Plan plan = Planner.plan(MOBILENET, graded(), POSITIONAL, DEFAULTS.withStrategy(strategy), tiled);
    assertTrue(plan.frozen().isEmpty(), plan.describe());
    for (DeviceAssignment d : plan.devices()) {
      assertTrue(d.update().layers().stream().allMatch(l -> l >= tiled), d.device() + " updates a tiled layer: "
          + d.update());
      assertEquals(MOBILENET.predict(d.update(), BATCH, OPTIMIZER).totalBytes(), d.predictedPeakBytes(), d.device());
    }
    for (int l = 0; l < MOBILENET.layers().size(); l++) {
      int layer = l;
      long slices = plan.groups().stream().flatMap(g -> g.slices().stream()).filter(s -> s.layer() == layer).count();
      assertTrue(l < tiled ? slices == 0 : slices > 0, "layer " + l + ": " + slices + " slices");
    }
    IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class,
        () -> Planner.plan(MOBILENET, graded(), POSITIONAL, DEFAULTS, MOBILENET.layers().size()));
    assertTrue(beyond.getMessage().contains("starts at layer"), beyond.getMessage());
  }

  @ParameterizedTest
  @EnumSource(PlanStrategy.class)
  void groupsAreKeyedByTheDevicesThatUpdateTheirSlices(PlanStrategy strategy) {
    Plan plan = gradedPlan(strategy);
    List<UpdaterSet> keys = plan.groups().stream().map(ProcessGroupSpec::updaters).toList();
    assertEquals(keys.size(), keys.stream().distinct().count(), "one group per updater set");
    for (ProcessGroupSpec g : plan.groups()) {
      assertEquals(g.updaters().size() >= 2 ? ProcessGroupSpec.Kind.ALL_REDUCE
          : ProcessGroupSpec.Kind.BROADCAST, g.kind(), g.updaters().toString());
    }
    // A device's channel fraction of a layer is exactly what the groups it belongs to hold of it.
    for (DeviceAssignment d : plan.devices()) {
      for (int l = 0; l < MOBILENET.layers().size(); l++) {
        int layer = l;
        int channels = Math.max(1, MOBILENET.layers().get(l).outputChannels());
        int held = plan.groups().stream().filter(g -> g.updaters().contains(d.device()))
            .flatMap(g -> g.slices().stream()).filter(s -> s.layer() == layer)
            .mapToInt(s -> s.channels().size()).sum();
        assertEquals((double) held / channels, d.update().fraction(l), 1e-9, d.device() + " layer " + l);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(PlanStrategy.class)
  void theSameInputInAnyOrderGivesTheSamePlan(PlanStrategy strategy) {
    List<DeviceBudget> shuffled = graded();
    Collections.shuffle(shuffled, new java.util.Random(7));
    assertEquals(gradedPlan(strategy), plan(shuffled, strategy));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 7})
  void equalBudgetsThatFitTheFullUpdateGiveDataParallel(int devices) {
    List<DeviceBudget> budgets = new ArrayList<>();
    for (int i = 0; i < devices; i++) {
      budgets.add(new DeviceBudget("node-" + i, FULL + 1024));
    }
    for (PlanStrategy strategy : PlanStrategy.values()) {
      Plan plan = plan(budgets, strategy);
      assertEquals(1, plan.groups().size(), plan.describe());
      ProcessGroupSpec only = plan.groups().get(0);
      assertEquals(devices, only.updaters().size());
      assertEquals(MOBILENET.layers().size(), only.slices().size());
      assertTrue(only.slices().stream().allMatch(LayerSlice::whole));
      plan.devices().forEach(d -> assertEquals(UpdateSet.all(MOBILENET.layers().size()), d.update()));
      assertEquals(plan.dataParallel(), plan.aggregation());
      assertEquals(1.0, plan.quality(), 1e-9);
    }
  }

  @Test
  void communicationAwarePlanAggregatesFasterThanTheSuffixPlan() {
    Plan suffix = gradedPlan(PlanStrategy.SUFFIX);
    Plan aware = gradedPlan(PlanStrategy.COMMUNICATION_AWARE);
    assertTrue(aware.aggregation().totalSeconds() < suffix.aggregation().totalSeconds(),
        suffix.describe() + aware.describe());
    assertTrue(aware.groups().size() < suffix.groups().size(), aware.describe());
    // Graded suffix plans nest: every AllReduce group shares a device with every other.
    List<ProcessGroupSpec> nested = suffix.groups().stream()
        .filter(g -> g.kind() == ProcessGroupSpec.Kind.ALL_REDUCE).toList();
    assertTrue(nested.size() >= 5, suffix.describe());
    for (int i = 1; i < nested.size(); i++) {
      assertFalse(nested.get(i).updaters().isDisjointFrom(nested.get(i - 1).updaters()));
    }
  }

  @Test
  void sharedTailPlansHaveTheirShape() {
    Plan plan = gradedPlan(PlanStrategy.SHARED_TAIL);
    int n = MOBILENET.layers().size();
    DeviceAssignment biggest = plan.device("dev6");
    assertEquals(n, biggest.update().count(), "the largest budget updates every layer");
    for (DeviceAssignment d : plan.devices()) {
      int first = d.update().firstUpdated();
      // A suffix: every layer from the first updated one on (the classifier alone is the shortest).
      assertEquals(n - first, d.update().count(), d.device() + " " + d.update());
    }
    assertTrue(plan.groups().size() <= 3, plan.describe());
  }

  @Test
  void aPinnedSharedTailHasThatLengthOnEveryDeviceThatAffordsIt() {
    PlannerSettings base = DEFAULTS.withStrategy(PlanStrategy.SHARED_TAIL);
    PlannerSettings three = base.withSharedTailLayers(3);
    Plan plan = Planner.plan(MOBILENET, graded(), POSITIONAL, three);
    int n = MOBILENET.layers().size();
    for (DeviceAssignment d : plan.devices()) {
      int count = d.update().count();
      assertTrue(count == n || count == 3 || count == 1, d.device() + " " + d.update());
    }
    assertTrue(plan.devices().stream().filter(d -> d.update().count() == 3).count() >= 2, plan.describe());
    PlannerSettings tooLong = base.withSharedTailLayers(n + 1);
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Planner.plan(MOBILENET, graded(), POSITIONAL, tooLong)).getMessage().contains("shared tail"));
  }

  private static PlannerSettings sharedTail(int averagingInterval, double memoryWeight, int tailLayers) {
    PlannerSettings base = DEFAULTS.withStrategy(PlanStrategy.SHARED_TAIL).withMemoryWeight(memoryWeight)
        .withSharedTailLayers(tailLayers);
    return new PlannerSettings(base.strategy(), BATCH, OPTIMIZER, averagingInterval, base.refreshInterval(),
        base.communication(), base.communicationWeight(), base.memoryWeight(), base.channelSplits(),
        base.minChannelFraction(), base.sharedTailLayers());
  }

  /** Whether the largest device (dev6) updates the body and not the last k layers but the classifier. */
  private static boolean ownerLeftTheTail(Plan plan, int k) {
    int n = MOBILENET.layers().size();
    DeviceAssignment owner = plan.device("dev6");
    for (int l = 0; l < n - 1; l++) {
      if (owner.update().isUpdated(l) == (l >= n - k)) {
        return false;
      }
    }
    return true;
  }

  @Test
  void withPeriodicAveragingTheBodysOwnerLeavesTheSharedTailToTheOthers() {
    Plan plan = Planner.plan(MOBILENET, graded(), POSITIONAL, sharedTail(10, 0, 5));
    int n = MOBILENET.layers().size();
    assertTrue(ownerLeftTheTail(plan, 5), plan.describe());
    assertTrue(plan.device("dev6").predictedPeakBytes() < MOBILENET.fullUpdateBytes(BATCH, OPTIMIZER),
        plan.describe());
    for (int l = n - 5; l < n - 1; l++) {
      int layer = l;
      assertTrue(plan.devices().stream().filter(d -> d.update().isUpdated(layer)).count() >= 2,
          "the tail keeps a group of updaters: " + plan.describe());
    }
    assertEquals(0, plan.frozen().size(), plan.describe());
  }

  @Test
  void withGradientsAveragedEveryStepTheScoreDecidesWhetherTheOwnerSharesTheTail() {
    // Communication not weighed: only the tail's data share and the owner's memory are at stake.
    PlannerSettings memoryFree = sharedTail(1, 0, 5).withCommunicationWeight(0);
    PlannerSettings memoryHeavy = sharedTail(1, 10, 5).withCommunicationWeight(0);
    assertFalse(ownerLeftTheTail(Planner.plan(MOBILENET, graded(), POSITIONAL, memoryFree), 5),
        "more data for the tail, at no weight on memory");
    assertTrue(ownerLeftTheTail(Planner.plan(MOBILENET, graded(), POSITIONAL, memoryHeavy), 5),
        "the owner's memory, weighed heavily");
  }

  @Test
  void averagingWeightsEveryFewStepsMakesGroupsCheaper() {
    PlannerSettings everyStep = DEFAULTS.withStrategy(PlanStrategy.SHARED_TAIL);
    PlannerSettings everyTen = new PlannerSettings(everyStep.strategy(), BATCH, OPTIMIZER, 10,
        everyStep.refreshInterval(), everyStep.communication(), everyStep.communicationWeight(),
        everyStep.memoryWeight(), everyStep.channelSplits(), everyStep.minChannelFraction(), 0);
    Plan synchronous = Planner.plan(MOBILENET, graded(), POSITIONAL, everyStep);
    Plan averaged = Planner.plan(MOBILENET, graded(), POSITIONAL, everyTen);
    assertTrue(averaged.quality() >= synchronous.quality(), "cheaper groups buy more updaters");
    assertTrue(averaged.aggregation().collectiveSeconds() <= synchronous.aggregation().collectiveSeconds()
        || averaged.quality() > synchronous.quality());
  }

  @Test
  void aBudgetBelowTheCheapestUpdateIsAnErrorNamingTheDevice() {
    List<DeviceBudget> budgets = new ArrayList<>(graded());
    budgets.add(new DeviceBudget("tiny-phone", 1_000_000));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> plan(budgets, PlanStrategy.COMMUNICATION_AWARE));
    assertTrue(e.getMessage().contains("tiny-phone"), e.getMessage());
    assertTrue(e.getMessage().contains("1000000 bytes"), e.getMessage());
    assertTrue(e.getMessage().contains("classifier"), e.getMessage());
  }

  @Test
  void badInputIsRejectedWithTheProblemNamed() {
    List<DeviceBudget> twice = List.of(new DeviceBudget("a", FULL), new DeviceBudget("a", FULL));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> plan(twice, PlanStrategy.SUFFIX))
        .getMessage().contains("device a is listed twice"));
    assertThrows(IllegalArgumentException.class, () -> plan(List.of(), PlanStrategy.SUFFIX));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Planner.plan(MOBILENET, graded(),
        Importance.of(1, 2, 3), DEFAULTS)).getMessage().contains("3 layers"));
    assertThrows(IllegalArgumentException.class, () -> new DeviceBudget("x", 0));
    assertThrows(IllegalArgumentException.class, () -> new MemoryModel(List.of(), MemoryCoefficients.NOMINAL));
  }

  /** Three layers of equal cost and no activations, so memory cannot tell them apart. */
  private static MemoryModel equalLayers(int count, long params, int channels) {
    List<LayerCost> layers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      layers.add(new LayerCost("L" + i, params, 0, 0, 1, 1, channels));
    }
    return new MemoryModel(layers, MemoryCoefficients.NOMINAL);
  }

  @Test
  void aTightBudgetGoesToTheMostImportantLayerAndTheRestAreFrozenWithAReason() {
    MemoryModel model = equalLayers(3, 100_000, 1);
    long oneLayer = model.predict(UpdateSet.of(3, 0), BATCH, OPTIMIZER).totalBytes();
    List<DeviceBudget> one = List.of(new DeviceBudget("solo", oneLayer));
    for (int favourite = 0; favourite < 3; favourite++) {
      double[] weights = {1, 1, 1};
      weights[favourite] = 5;
      Plan plan = Planner.plan(model, one, Importance.of(weights), DEFAULTS);
      assertEquals(UpdateSet.of(3, favourite), plan.device("solo").update(), plan.describe());
      assertEquals(2, plan.frozen().size());
      assertTrue(plan.frozen().stream().allMatch(f -> f.reason().contains("solo")), plan.describe());
    }
  }

  @Test
  void gradientNormImportanceSteersTheTightDevice() {
    MemoryModel model = equalLayers(3, 100_000, 1);
    long oneLayer = model.predict(UpdateSet.of(3, 0), BATCH, OPTIMIZER).totalBytes();
    Plan plan = Planner.plan(model, List.of(new DeviceBudget("solo", oneLayer)),
        Importance.fromGradientNorms(new double[] {0.5, 0.1, 0.2}, model.layers()), DEFAULTS);
    assertEquals(UpdateSet.of(3, 0), plan.device("solo").update());
  }

  @Test
  void aLayerTooLargeForAnyDeviceIsFrozenAndTheRestStillPlanned() {
    List<LayerCost> layers = List.of(new LayerCost("small", 1_000, 0, 10, 10, 10, 8),
        new LayerCost("huge", 50_000_000, 0, 10, 10, 10, 1));
    MemoryModel model = new MemoryModel(layers, MemoryCoefficients.NOMINAL);
    long budget = model.predict(UpdateSet.of(2, 0), BATCH, OPTIMIZER).totalBytes() * 11 / 10;
    Plan plan = Planner.plan(model, List.of(new DeviceBudget("a", budget), new DeviceBudget("b", budget)),
        Importance.positional(layers), DEFAULTS);
    assertEquals(1, plan.frozen().size());
    FrozenLayer frozen = plan.frozen().get(0);
    assertEquals("huge", frozen.name());
    assertTrue(frozen.reason().contains("largest budget"), frozen.reason());
    assertTrue(plan.devices().stream().allMatch(d -> d.update().equals(UpdateSet.of(2, 0))));
  }

  @ParameterizedTest
  // A uniform tail leaves the layers below it frozen by design (UniformTailTest).
  @EnumSource(value = PlanStrategy.class, names = "UNIFORM_TAIL", mode = EnumSource.Mode.EXCLUDE)
  void layersWithoutWeightsAreNeitherPlannedNorFrozen(PlanStrategy strategy) {
    List<LayerCost> layers = List.of(new LayerCost("conv", 10_000, 0, 100, 50, 150, 16),
        new LayerCost("pool", 0, 0, 50, 10, 60, 16), new LayerCost("fc", 2_000, 0, 10, 10, 20, 10));
    MemoryModel model = new MemoryModel(layers, MemoryCoefficients.NOMINAL);
    long budget = model.predict(UpdateSet.of(3, 0, 2), BATCH, OPTIMIZER).totalBytes();
    Plan plan = Planner.plan(model, List.of(new DeviceBudget("a", budget), new DeviceBudget("b", budget / 2)),
        Importance.positional(layers), DEFAULTS.withStrategy(strategy));
    assertTrue(plan.frozen().isEmpty(), plan.describe());
    assertTrue(plan.groups().stream().flatMap(g -> g.slices().stream()).noneMatch(s -> s.layer() == 1));
    plan.devices().forEach(d -> assertFalse(d.update().isUpdated(1), plan.describe()));
    assertEquals(Set.of(0, 2), plan.groups().stream().flatMap(g -> g.slices().stream())
        .map(LayerSlice::layer).collect(java.util.stream.Collectors.toSet()));

    assertTrue(assertThrows(IllegalArgumentException.class, () -> Planner.plan(
        new MemoryModel(List.of(layers.get(1)), MemoryCoefficients.NOMINAL),
        List.of(new DeviceBudget("a", budget)), Importance.of(1), DEFAULTS))
        .getMessage().contains("no trainable layer"));
  }

  @Test
  void aLayerNoDeviceHoldsWholeIsSplitByChannelsIntoDisjointCoveringSlices() {
    // Adam keeps two state tensors per updated parameter: half the channels save a third of it.
    PlannerSettings adam = PlannerSettings.defaults(BATCH, OptimizerKind.ADAM);
    MemoryModel model = equalLayers(1, 1_000_000, 64);
    long whole = model.predict(UpdateSet.all(1), BATCH, OptimizerKind.ADAM).totalBytes();
    long half = model.predict(UpdateSet.ofFractions(new double[] {0.5}), BATCH, OptimizerKind.ADAM)
        .totalBytes();
    assertTrue(half < whole);
    List<DeviceBudget> budgets = List.of(new DeviceBudget("a", half), new DeviceBudget("b", half));
    Plan plan = Planner.plan(model, budgets, Importance.positional(model.layers()), adam);
    assertTrue(plan.frozen().isEmpty(), plan.describe());
    assertEquals(2, plan.groups().size(), plan.describe());
    assertCoveredExactly(plan, model);
    for (ProcessGroupSpec g : plan.groups()) {
      assertEquals(ProcessGroupSpec.Kind.BROADCAST, g.kind());
      assertEquals(32, g.slices().get(0).channels().size());
      assertFalse(g.slices().get(0).whole());
    }
    plan.devices().forEach(d -> assertEquals(0.5, d.update().fraction(0), 1e-12));

    // Without channel splits the same budgets cannot train anything at all.
    String message = assertThrows(IllegalArgumentException.class, () -> Planner.plan(model, budgets,
        Importance.positional(model.layers()), adam.withChannelSplits(false))).getMessage();
    assertTrue(message.startsWith("device a: budget " + half + " bytes"), message);
  }

  @Test
  void describeListsDevicesGroupsAndTheComparisonWithDataParallel() {
    Plan plan = gradedPlan(PlanStrategy.COMMUNICATION_AWARE);
    String text = plan.describe();
    for (DeviceBudget b : graded()) {
      assertTrue(text.contains(b.device()), text);
    }
    assertTrue(text.contains("allreduce"), text);
    assertTrue(text.contains("data-parallel"), text);
    assertEquals(plan.groups().size() + plan.devices().size() + 5, text.lines().count(), text);
  }

  @Test
  void aggregationCostCountsConcurrencyAndRefresh() {
    PlanningProblem p = new PlanningProblem(equalLayers(2, 1_000_000, 1),
        List.of(new DeviceBudget("a", Long.MAX_VALUE), new DeviceBudget("b", Long.MAX_VALUE),
            new DeviceBudget("c", Long.MAX_VALUE), new DeviceBudget("d", Long.MAX_VALUE)),
        Importance.of(1, 1), DEFAULTS);
    CommunicationModel net = DEFAULTS.communication();
    long bytes = p.layerBytes[0];
    double pair = net.allReduceSeconds(2, bytes);
    double refresh = net.broadcastSeconds(2, bytes) / DEFAULTS.refreshInterval();

    Assignment disjoint = new Assignment(2);
    disjoint.add(0, 0b0011, 1);
    disjoint.add(1, 0b1100, 1);
    Evaluation concurrent = new Evaluation(p, disjoint);
    assertEquals(pair, concurrent.cost.collectiveSeconds(), 1e-12);
    assertEquals(2 * refresh, concurrent.cost.refreshSeconds(), 1e-12);

    Assignment overlapping = new Assignment(2);
    overlapping.add(0, 0b0011, 1);
    overlapping.add(1, 0b0110, 1);
    assertEquals(2 * pair, new Evaluation(p, overlapping).cost.collectiveSeconds(), 1e-12);
  }

  @Test
  void slicesAreOrderedAndKeyedDeterministically() {
    TreeMap<Long, String> byMask = new TreeMap<>(PlanningProblem::compareMasks);
    byMask.put(0b110L, "bc");
    byMask.put(0b001L, "a");
    byMask.put(0b111L, "abc");
    assertEquals(List.of("abc", "a", "bc"), List.copyOf(byMask.values()));
  }
}
