package org.dsparse.core.memory;

/**
 * The calibrated part of the memory model. Parameters, gradients and optimizer state are exact
 * tensor sizes; what autograd and the allocator really keep of activations is not, so it is scaled by
 * factors fitted to measured peaks ({@code profile --calibrate}).
 *
 * @param updatedActivationFactor bytes kept per modelled activation byte of an updated layer
 * @param passThroughActivationFactor the same for a frozen layer that gradients pass through (it needs
 *     no weight gradient, so autograd keeps less of it)
 * @param transientFactor multiple of the largest recorded activation that is alive as a temporary
 *     on top of what is kept (the gradient of an activation during backward)
 * @param prefixPeakFactor bytes alive per modelled byte of the frozen prefix's largest forward working
 *     set; the prefix runs before anything is recorded, so the peak is the larger of the two phases
 * @param fixedOverheadBytes allocator and runtime cost of training at all (thread-local arenas,
 *     autograd graph), independent of the layer set
 */
public record MemoryCoefficients(
    double updatedActivationFactor,
    double passThroughActivationFactor,
    double transientFactor,
    double prefixPeakFactor,
    long fixedOverheadBytes) {

  /** Uncalibrated: every modelled byte counts once, no overhead. */
  public static final MemoryCoefficients NOMINAL = new MemoryCoefficients(1.0, 1.0, 1.0, 1.0, 0);

  public MemoryCoefficients {
    if (updatedActivationFactor < 0 || passThroughActivationFactor < 0 || transientFactor < 0
        || prefixPeakFactor < 0 || fixedOverheadBytes < 0) {
      throw new IllegalArgumentException("memory coefficients must be non-negative: " + this);
    }
  }

  /** The same coefficients with {@code bytes} more fixed overhead. */
  public MemoryCoefficients plusFixedOverhead(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("extra overhead must be non-negative, got " + bytes);
    }
    return new MemoryCoefficients(updatedActivationFactor, passThroughActivationFactor, transientFactor,
        prefixPeakFactor, Math.addExact(fixedOverheadBytes, bytes));
  }
}
