package org.dsparse.core.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Predicts the peak memory of training one model with a given update set.
 *
 * <p>Exact parts: weights (all layers, frozen or not), gradients of updated layers (PyTorch
 * allocates a layer's whole gradient even when only some of its channels are updated), optimizer
 * state of the updated channels. Calibrated parts: activations kept from the first updated layer on
 * (the frozen prefix runs unrecorded and keeps nothing), one transient, and a fixed overhead.
 */
public final class MemoryModel {
  static final long FLOAT_BYTES = Float.BYTES;

  private final List<LayerCost> layers;
  private final MemoryCoefficients coefficients;

  public MemoryModel(List<LayerCost> layers, MemoryCoefficients coefficients) {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("a model needs at least one layer");
    }
    this.layers = List.copyOf(layers);
    this.coefficients = Objects.requireNonNull(coefficients, "coefficients");
  }

  public List<LayerCost> layers() {
    return layers;
  }

  public MemoryCoefficients coefficients() {
    return coefficients;
  }

  /** The same layers under other coefficients. */
  public MemoryModel withCoefficients(MemoryCoefficients other) {
    return new MemoryModel(layers, other);
  }

  /** Predicts the peak for training {@code update} at {@code batch} samples per step. */
  public MemoryEstimate predict(UpdateSet update, int batch, OptimizerKind optimizer) {
    Terms t = terms(update, batch, optimizer);
    List<Long> activations = new ArrayList<>(layers.size());
    for (int i = 0; i < layers.size(); i++) {
      activations.add(Math.round(t.updatedActivation[i] * coefficients.updatedActivationFactor()
          + t.passThroughActivation[i] * coefficients.passThroughActivationFactor()));
    }
    return new MemoryEstimate(
        t.weights,
        t.gradients,
        t.optimizerState,
        activations,
        Math.round(t.transient_ * coefficients.transientFactor()),
        update.isEmpty() ? 0 : coefficients.fixedOverheadBytes());
  }

  /** The peak of the full update, every layer whole. */
  public long fullUpdateBytes(int batch, OptimizerKind optimizer) {
    return predict(UpdateSet.all(layers.size()), batch, optimizer).totalBytes();
  }

  /**
   * The model's terms before calibration, as a row of a least-squares fit: exact bytes first, then
   * the bytes each coefficient multiplies, in the order of {@link MemoryCoefficients}'s components.
   */
  public CalibrationRow calibrationRow(UpdateSet update, int batch, OptimizerKind optimizer) {
    Terms t = terms(update, batch, optimizer);
    double updated = 0;
    double passThrough = 0;
    for (int i = 0; i < layers.size(); i++) {
      updated += t.updatedActivation[i];
      passThrough += t.passThroughActivation[i];
    }
    return new CalibrationRow(t.weights + t.gradients + t.optimizerState, updated, passThrough,
        t.transient_, update.isEmpty() ? 0 : 1);
  }

  private Terms terms(UpdateSet update, int batch, OptimizerKind optimizer) {
    if (update.layerCount() != layers.size()) {
      throw new IllegalArgumentException("update set covers " + update.layerCount()
          + " layers, the model has " + layers.size());
    }
    if (batch <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + batch);
    }
    Terms t = new Terms(layers.size());
    int first = update.firstUpdated();
    long largestRecorded = 0;
    long largestUnrecorded = 0;
    for (int i = 0; i < layers.size(); i++) {
      LayerCost layer = layers.get(i);
      t.weights += FLOAT_BYTES * (layer.trainableParams() + layer.bufferElements());
      double fraction = update.fraction(i);
      if (fraction > 0) {
        t.gradients += FLOAT_BYTES * layer.trainableParams();
        t.optimizerState += Math.round(FLOAT_BYTES * optimizer.stateTensorsPerParam()
            * layer.trainableParams() * fraction);
        t.updatedActivation[i] = (double) FLOAT_BYTES * batch * layer.activationElementsPerSample();
      } else if (first >= 0 && i > first) {
        t.passThroughActivation[i] = (double) FLOAT_BYTES * batch * layer.activationElementsPerSample();
      }
      if (first >= 0 && i >= first) {
        largestRecorded = Math.max(largestRecorded, layer.outputElementsPerSample());
      } else {
        largestUnrecorded = Math.max(largestUnrecorded, layer.peakForwardElementsPerSample());
      }
    }
    // Recorded part: the gradient of the largest activation is alive while backward runs through it.
    // Frozen prefix: its largest forward working set is freed before recording starts, so it only
    // matters when it exceeds the recorded part's temporaries.
    t.transient_ = (double) FLOAT_BYTES * batch * Math.max(largestRecorded, largestUnrecorded / 2.0);
    return t;
  }

  private static final class Terms {
    long weights;
    long gradients;
    long optimizerState;
    final double[] updatedActivation;
    final double[] passThroughActivation;
    double transient_;

    Terms(int n) {
      updatedActivation = new double[n];
      passThroughActivation = new double[n];
    }
  }
}
