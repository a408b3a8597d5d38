package org.dsparse.core.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.dsparse.core.compression.Compression;

/**
 * Predicts the peak memory of training one model with a given update set.
 *
 * <p>Exact parts: weights (all layers, frozen or not), gradients of updated layers (PyTorch
 * allocates a layer's whole gradient even when only some of its channels are updated), optimizer
 * state of the updated channels. Calibrated parts: the peak of two phases, whichever is larger,
 * plus a fixed overhead. Phase one is the frozen prefix running forward unrecorded: only its largest
 * working set is alive. Phase two is the recorded part: activations kept from the first updated layer
 * on (updated layers and frozen layers that gradients pass through), plus the largest temporary.
 *
 * <p>The frozen prefix may run in micro-batches ({@link #withFrozenPrefixMicroBatch}): phase one then
 * holds one micro-batch's working set plus the prefix's outputs for the whole batch, twice (the
 * micro-batches' outputs and their concatenation). So may the recorded part
 * ({@link #withUpdateMicroBatch}): phase two then holds one micro-batch's activations and temporary,
 * beside the prefix's output for the whole batch.
 */
public final class MemoryModel {
  static final long FLOAT_BYTES = Float.BYTES;

  private final List<LayerCost> layers;
  private final MemoryCoefficients coefficients;
  private final int frozenPrefixMicroBatch;
  private final int updateMicroBatch;
  private final Compression compression;

  /** A model whose frozen prefix runs the whole batch at once, without gradient compression. */
  public MemoryModel(List<LayerCost> layers, MemoryCoefficients coefficients) {
    this(layers, coefficients, 0, 0, Compression.NONE);
  }

  private MemoryModel(List<LayerCost> layers, MemoryCoefficients coefficients, int frozenPrefixMicroBatch,
      int updateMicroBatch, Compression compression) {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("a model needs at least one layer");
    }
    if (frozenPrefixMicroBatch < 0) {
      throw new IllegalArgumentException("frozen-prefix micro-batch must be 0 (whole batch) or positive, got "
          + frozenPrefixMicroBatch);
    }
    this.layers = List.copyOf(layers);
    this.coefficients = Objects.requireNonNull(coefficients, "coefficients");
    this.frozenPrefixMicroBatch = frozenPrefixMicroBatch;
    if (updateMicroBatch < 0) {
      throw new IllegalArgumentException("update micro-batch must be 0 (whole batch) or positive, got "
          + updateMicroBatch);
    }
    this.updateMicroBatch = updateMicroBatch;
    this.compression = Objects.requireNonNull(compression, "compression");
  }

  public List<LayerCost> layers() {
    return layers;
  }

  public MemoryCoefficients coefficients() {
    return coefficients;
  }

  /** The same layers under other coefficients. */
  public MemoryModel withCoefficients(MemoryCoefficients other) {
    return new MemoryModel(layers, other, frozenPrefixMicroBatch, updateMicroBatch, compression);
  }

  /** Other layers (e.g. a narrower network's) under the same coefficients, micro-batch and compression. */
  public MemoryModel withLayers(List<LayerCost> other) {
    return new MemoryModel(other, coefficients, frozenPrefixMicroBatch, updateMicroBatch, compression);
  }

  /** The same model with the frozen prefix run {@code samples} at a time (0: the whole batch). */
  public MemoryModel withFrozenPrefixMicroBatch(int samples) {
    return new MemoryModel(layers, coefficients, samples, updateMicroBatch, compression);
  }

  /**
   * The same model with the recorded layers (from the first updated one on) run forward and backward
   * {@code samples} at a time (0: the whole batch): the activations kept for the backward and the
   * largest temporary are one micro-batch's, and the first updated layer's input for the whole batch
   * stays alive while the micro-batches run.
   */
  public MemoryModel withUpdateMicroBatch(int samples) {
    return new MemoryModel(layers, coefficients, frozenPrefixMicroBatch, samples, compression);
  }

  public int updateMicroBatch() {
    return updateMicroBatch;
  }

  /**
   * The same model with its updated parameters' gradients compressed: each holds an error-feedback
   * residual and the compressor's payloads ({@link Compression#stateFloatsAtMost}), counted exactly
   * as optimizer state is.
   */
  public MemoryModel withCompression(Compression other) {
    return new MemoryModel(layers, coefficients, frozenPrefixMicroBatch, updateMicroBatch, other);
  }

  public int frozenPrefixMicroBatch() {
    return frozenPrefixMicroBatch;
  }

  /** Predicts the peak for training {@code update} at {@code batch} samples per step. */
  public MemoryEstimate predict(UpdateSet update, int batch, OptimizerKind optimizer) {
    Terms t = terms(update, batch, optimizer);
    MemoryCoefficients c = coefficients;
    long overhead = update.isEmpty() ? 0 : c.fixedOverheadBytes();
    if (!t.row().recordedPhaseDominates(c)) {
      return new MemoryEstimate(t.weights, t.gradients, t.optimizerState, t.compression,
          Collections.nCopies(layers.size(), 0L), Math.round(t.prefixPeak * c.prefixPeakFactor()),
          overhead);
    }
    List<Long> activations = new ArrayList<>(layers.size());
    for (int i = 0; i < layers.size(); i++) {
      activations.add(Math.round(t.updatedActivation[i] * c.updatedActivationFactor()
          + t.passThroughActivation[i] * c.passThroughActivationFactor()));
    }
    return new MemoryEstimate(t.weights, t.gradients, t.optimizerState, t.compression, activations,
        Math.round(t.transientBytes * c.transientFactor()), overhead);
  }

  /** The peak of the full update, every layer whole. */
  public long fullUpdateBytes(int batch, OptimizerKind optimizer) {
    return predict(UpdateSet.all(layers.size()), batch, optimizer).totalBytes();
  }

  /** The model's terms before calibration, for fitting the coefficients to measured peaks. */
  public CalibrationRow calibrationRow(UpdateSet update, int batch, OptimizerKind optimizer) {
    return terms(update, batch, optimizer).row();
  }

  private Terms terms(UpdateSet update, int batch, OptimizerKind optimizer) {
    if (update.layerCount() != layers.size()) {
      throw new IllegalArgumentException("update set covers " + update.layerCount()
          + " layers, the model has " + layers.size());
    }
    if (batch <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + batch);
    }
    Terms t = new Terms(layers.size(), update.isEmpty() ? 0 : 1);
    int first = update.firstUpdated();
    long largestRecordedOutput = 0;
    long largestPrefixWorkingSet = 0;
    // What the recorded phase holds at once: one micro-batch's activations when it is micro-batched.
    boolean recordedInParts = updateMicroBatch > 0 && updateMicroBatch < batch;
    int recorded = recordedInParts ? updateMicroBatch : batch;
    for (int i = 0; i < layers.size(); i++) {
      LayerCost layer = layers.get(i);
      t.weights += FLOAT_BYTES * (layer.trainableParams() + layer.bufferElements());
      double fraction = update.fraction(i);
      double activation = (double) FLOAT_BYTES * recorded * layer.activationElementsPerSample();
      if (fraction > 0) {
        t.gradients += FLOAT_BYTES * layer.trainableParams();
        t.optimizerState += Math.round(FLOAT_BYTES * optimizer.stateTensorsPerParam()
            * layer.trainableParams() * fraction);
        t.compression += FLOAT_BYTES * compression.stateFloatsAtMost(Math.round(layer.trainableParams() * fraction));
        t.updatedActivation[i] = activation;
      } else if (first >= 0 && i > first) {
        t.passThroughActivation[i] = activation;
      }
      if (first >= 0 && i >= first) {
        largestRecordedOutput = Math.max(largestRecordedOutput, layer.outputElementsPerSample());
      } else if (first > 0) {
        largestPrefixWorkingSet = Math.max(largestPrefixWorkingSet, layer.peakForwardElementsPerSample());
      }
    }
    t.transientBytes = (double) FLOAT_BYTES * recorded * largestRecordedOutput
        + (recordedInParts && first > 0 ? (double) FLOAT_BYTES * batch * layers.get(first - 1).outputElementsPerSample()
            : 0);
    boolean microBatched = first > 0 && frozenPrefixMicroBatch > 0 && frozenPrefixMicroBatch < batch;
    t.prefixPeak = microBatched
        ? (double) FLOAT_BYTES * (frozenPrefixMicroBatch * largestPrefixWorkingSet
            + 2L * batch * layers.get(first - 1).outputElementsPerSample())
        : (double) FLOAT_BYTES * batch * largestPrefixWorkingSet;
    return t;
  }

  private static final class Terms {
    long weights;
    long gradients;
    long optimizerState;
    long compression;
    final double[] updatedActivation;
    final double[] passThroughActivation;
    double transientBytes;
    double prefixPeak;
    final double training;

    Terms(int n, double training) {
      updatedActivation = new double[n];
      passThroughActivation = new double[n];
      this.training = training;
    }

    CalibrationRow row() {
      double updated = 0;
      double passThrough = 0;
      for (int i = 0; i < updatedActivation.length; i++) {
        updated += updatedActivation[i];
        passThrough += passThroughActivation[i];
      }
      return new CalibrationRow(weights + gradients + optimizerState + compression, updated, passThrough,
          transientBytes, prefixPeak, training);
    }
  }
}
