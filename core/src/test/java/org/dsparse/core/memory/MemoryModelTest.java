package org.dsparse.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryModelTest {
  /** Early layers: big activations, few parameters; late layers the reverse, as in MobileNetV2. */
  static List<LayerCost> layers() {
    return List.of(
        new LayerCost("a", 100, 10, 50_000, 20_000, 30_000, 16),
        new LayerCost("b", 1_000, 20, 20_000, 8_000, 25_000, 32),
        new LayerCost("c", 10_000, 40, 4_000, 1_000, 5_000, 64),
        new LayerCost("d", 100_000, 0, 1_000, 10, 1_100, 10));
  }

  private final MemoryModel nominal = new MemoryModel(layers(), MemoryCoefficients.NOMINAL);

  @Test
  void weightsCountEveryLayerGradientsAndStateOnlyUpdatedOnes() {
    MemoryEstimate e = nominal.predict(UpdateSet.of(4, 3), 8, OptimizerKind.ADAM);
    assertEquals(4 * (100 + 10 + 1_000 + 20 + 10_000 + 40 + 100_000), e.weightBytes());
    assertEquals(4 * 100_000, e.gradientBytes());
    assertEquals(2 * 4 * 100_000, e.optimizerStateBytes());
    assertEquals(0, nominal.predict(UpdateSet.of(4, 3), 8, OptimizerKind.SGD).optimizerStateBytes());
  }

  @Test
  void compressionAddsTheResidualAndPayloadsOfTheUpdatedParametersOnly() {
    org.dsparse.core.compression.Compression sketch = new org.dsparse.core.compression.Compression(
        org.dsparse.core.compression.Compression.Kind.SKETCH, 50, 3, 0, 0);
    MemoryEstimate plain = nominal.predict(UpdateSet.of(4, 3), 8, OptimizerKind.SGD_MOMENTUM);
    MemoryEstimate compressed = nominal.withCompression(sketch).predict(UpdateSet.of(4, 3), 8,
        OptimizerKind.SGD_MOMENTUM);
    assertEquals(0, plain.compressionBytes());
    // Layer d alone is updated: 100,000 residual floats and at most 2 * 100,000 / 50 payload floats.
    assertEquals(4L * (100_000 + 4_000), compressed.compressionBytes());
    assertEquals(plain.totalBytes() + compressed.compressionBytes(), compressed.totalBytes());
  }

  @Test
  void frozenPrefixKeepsNoActivationsAndPassThroughLayersDo() {
    MemoryEstimate e = nominal.predict(UpdateSet.of(4, 1, 3), 2, OptimizerKind.SGD);
    List<Long> act = e.activationBytesPerLayer();
    assertEquals(0L, act.get(0));
    assertEquals(4L * 2 * 20_000, act.get(1));
    assertEquals(4L * 2 * 4_000, act.get(2), "frozen layer c lies between updated b and d");
    assertEquals(4L * 2 * 1_000, act.get(3));
    assertEquals(4L * 2 * 8_000, e.transientBytes(), "largest recorded output is b's");
  }

  @Test
  void updatingOnlyTheTailIsMuchCheaperThanTheFullUpdate() {
    long full = nominal.fullUpdateBytes(32, OptimizerKind.SGD_MOMENTUM);
    long tail = nominal.predict(UpdateSet.lastLayers(4, 1), 32, OptimizerKind.SGD_MOMENTUM).totalBytes();
    assertTrue(tail < full / 2, tail + " vs " + full);
  }

  @Test
  void whenTheFrozenPrefixSetsThePeakOnlyItsWorkingSetCounts() {
    MemoryCoefficients c = new MemoryCoefficients(1, 1, 1, 3, 0);
    MemoryEstimate e = nominal.withCoefficients(c).predict(UpdateSet.of(4, 3), 4, OptimizerKind.SGD);
    assertEquals(0, e.activationBytes());
    assertEquals(3L * 4 * 4 * 30_000, e.transientBytes());
  }

  @Test
  void aMicroBatchedFrozenPrefixHoldsOneMicroBatchsWorkingSetAndTheWholeBatchsOutputs() {
    MemoryCoefficients c = new MemoryCoefficients(1, 1, 1, 3, 0);
    MemoryModel micro = nominal.withCoefficients(c).withFrozenPrefixMicroBatch(2);
    MemoryEstimate e = micro.predict(UpdateSet.of(4, 3), 8, OptimizerKind.SGD);
    // a's working set for 2 samples, plus c's output for all 8 twice (parts and concatenation)
    assertEquals(Math.round(3.0 * 4 * (2 * 30_000 + 2 * 8 * 1_000)), e.transientBytes());
    assertTrue(e.totalBytes() < nominal.withCoefficients(c).predict(UpdateSet.of(4, 3), 8, OptimizerKind.SGD)
        .totalBytes());
    assertEquals(2, micro.frozenPrefixMicroBatch());
    assertEquals(2, micro.withCoefficients(MemoryCoefficients.NOMINAL).frozenPrefixMicroBatch());
  }

  @Test
  void microBatchesChangeNothingWithoutAFrozenPrefixOrWhenTheBatchFitsOne() {
    MemoryModel micro = nominal.withFrozenPrefixMicroBatch(2);
    assertEquals(nominal.fullUpdateBytes(8, OptimizerKind.SGD), micro.fullUpdateBytes(8, OptimizerKind.SGD));
    assertEquals(nominal.predict(UpdateSet.of(4, 3), 2, OptimizerKind.SGD),
        micro.predict(UpdateSet.of(4, 3), 2, OptimizerKind.SGD));
    assertThrows(IllegalArgumentException.class, () -> nominal.withFrozenPrefixMicroBatch(-1));
  }

  @Test
  void aMicroBatchedUpdateKeepsOneMicroBatchsActivationsBesideTheWholeBatchsInput() {
    // No weight on the frozen prefix's phase, so that the recorded phase is the peak here.
    MemoryModel plain = nominal.withCoefficients(new MemoryCoefficients(1, 1, 1, 0, 0));
    MemoryModel micro = plain.withUpdateMicroBatch(2);
    MemoryEstimate whole = plain.predict(UpdateSet.of(4, 1, 3), 8, OptimizerKind.SGD);
    MemoryEstimate parts = micro.predict(UpdateSet.of(4, 1, 3), 8, OptimizerKind.SGD);
    for (int i = 0; i < 4; i++) {
      assertEquals(whole.activationBytesPerLayer().get(i) / 4, parts.activationBytesPerLayer().get(i), "layer " + i);
    }
    // b's output for 2 samples, plus a's output (b's input) for all 8.
    assertEquals(4L * (2 * 8_000 + 8 * 20_000), parts.transientBytes());
    assertEquals(whole.weightBytes() + whole.gradientBytes(), parts.weightBytes() + parts.gradientBytes());
    assertTrue(parts.totalBytes() < whole.totalBytes());
    // The first layer updated: its input is the images, not counted as a layer's output.
    assertEquals(4L * 2 * 20_000, micro.predict(UpdateSet.all(4), 8, OptimizerKind.SGD).transientBytes());
    assertEquals(plain.predict(UpdateSet.of(4, 1, 3), 2, OptimizerKind.SGD),
        micro.predict(UpdateSet.of(4, 1, 3), 2, OptimizerKind.SGD), "a batch of one micro-batch");
    assertEquals(2, micro.withCoefficients(MemoryCoefficients.NOMINAL).updateMicroBatch(), "kept by the copies");
    assertThrows(IllegalArgumentException.class, () -> nominal.withUpdateMicroBatch(-1));
  }

  @Test
  void channelFractionScalesOptimizerStateButNotTheGradient() {
    UpdateSet half = UpdateSet.of(4, 3).with(3, 0.5);
    MemoryEstimate e = nominal.predict(half, 1, OptimizerKind.SGD_MOMENTUM);
    assertEquals(4 * 100_000, e.gradientBytes());
    assertEquals(4 * 50_000, e.optimizerStateBytes());
  }

  @Test
  void badInputIsNamed() {
    assertThrows(IllegalArgumentException.class, () -> nominal.predict(UpdateSet.all(3), 1, OptimizerKind.SGD));
    assertThrows(IllegalArgumentException.class, () -> nominal.predict(UpdateSet.all(4), 0, OptimizerKind.SGD));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> UpdateSet.parse("b,zz", List.of("a", "b")));
    assertTrue(e.getMessage().contains("zz") && e.getMessage().contains("[a, b]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> OptimizerKind.parse("rmsprop"));
  }

  @Test
  void parseReadsEveryForm() {
    List<String> names = List.of("a", "b", "c", "d");
    assertEquals(UpdateSet.all(4), UpdateSet.parse("all", names));
    assertEquals(UpdateSet.of(4, 2, 3), UpdateSet.parse("last:2", names));
    assertEquals(UpdateSet.of(4, 1, 2, 3), UpdateSet.parse("from:b", names));
    assertEquals(UpdateSet.of(4, 0, 3), UpdateSet.parse("a, d", names));
    assertTrue(UpdateSet.parse("none", names).isEmpty());
  }

  @Test
  void calibrationRecoversKnownCoefficientsFromTheirOwnPredictions() {
    MemoryCoefficients truth = new MemoryCoefficients(1.4, 0.8, 2.5, 1.7, 3_000_000);
    MemoryModel model = nominal.withCoefficients(truth);
    List<Calibration.Measured> samples = new ArrayList<>();
    for (int batch : new int[] {8, 32, 64}) {
      for (UpdateSet u : List.of(UpdateSet.all(4), UpdateSet.lastLayers(4, 1), UpdateSet.lastLayers(4, 2),
          UpdateSet.of(4, 1, 3), UpdateSet.of(4, 0, 3), UpdateSet.of(4, 2))) {
        samples.add(new Calibration.Measured(model.calibrationRow(u, batch, OptimizerKind.SGD),
            model.predict(u, batch, OptimizerKind.SGD).totalBytes()));
      }
    }
    MemoryCoefficients fitted = Calibration.fit(samples);
    assertTrue(Calibration.worstRelativeError(samples, fitted) < 1e-6, fitted.toString());
    // Held out: a batch size and update sets the fit never saw.
    MemoryModel refitted = nominal.withCoefficients(fitted);
    for (UpdateSet u : List.of(UpdateSet.of(4, 1), UpdateSet.lastLayers(4, 3), UpdateSet.of(4, 0, 2))) {
      long expected = model.predict(u, 48, OptimizerKind.SGD).totalBytes();
      assertEquals(expected, refitted.predict(u, 48, OptimizerKind.SGD).totalBytes(), expected * 1e-6, u.toString());
    }
  }
}
