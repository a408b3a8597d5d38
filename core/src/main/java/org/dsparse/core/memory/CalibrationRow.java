package org.dsparse.core.memory;

/**
 * One configuration's uncalibrated terms: {@code exactBytes} is known, the others are multiplied by
 * the coefficients being fitted. The peak is whichever phase is larger: the frozen prefix's forward
 * ({@code prefixPeakBytes}) or the recorded part (kept activations plus a transient); the fixed
 * overhead applies when anything trains ({@code training} is 1).
 */
public record CalibrationRow(
    long exactBytes,
    double updatedActivationBytes,
    double passThroughActivationBytes,
    double transientBytes,
    double prefixPeakBytes,
    double training) {

  /** The predicted peak under {@code c}. */
  public double predict(MemoryCoefficients c) {
    return exactBytes + Math.max(recordedPhase(c), prefixPeakBytes * c.prefixPeakFactor())
        + training * c.fixedOverheadBytes();
  }

  /** True when the recorded part, not the frozen prefix, sets the peak under {@code c}. */
  public boolean recordedPhaseDominates(MemoryCoefficients c) {
    return recordedPhase(c) >= prefixPeakBytes * c.prefixPeakFactor();
  }

  private double recordedPhase(MemoryCoefficients c) {
    return updatedActivationBytes * c.updatedActivationFactor()
        + passThroughActivationBytes * c.passThroughActivationFactor()
        + transientBytes * c.transientFactor();
  }
}
