package org.dsparse.core.memory;

import java.util.List;

/**
 * A predicted peak training memory, split by what holds it.
 *
 * @param weightBytes every layer's parameters and buffers (frozen layers still run forward)
 * @param gradientBytes gradients of the updated parameters
 * @param optimizerStateBytes optimizer state of the updated parameters
 * @param compressionBytes with gradient compression, the error-feedback residual of the updated
 *     parameters and the compressor's payloads; 0 without
 * @param activationBytesPerLayer at the peak: activations kept for backward, per layer in model
 *     order (zero for the frozen prefix, which runs without recording); all zero when the frozen
 *     prefix's forward sets the peak
 * @param transientBytes at the peak: the temporary alive on top of the kept activations, or the
 *     frozen prefix's forward working set when that is larger
 * @param overheadBytes the calibrated fixed cost of training
 */
public record MemoryEstimate(
    long weightBytes,
    long gradientBytes,
    long optimizerStateBytes,
    long compressionBytes,
    List<Long> activationBytesPerLayer,
    long transientBytes,
    long overheadBytes) {

  public MemoryEstimate {
    activationBytesPerLayer = List.copyOf(activationBytesPerLayer);
  }

  public long activationBytes() {
    return activationBytesPerLayer.stream().mapToLong(Long::longValue).sum();
  }

  /** The predicted peak: everything above alive at once. */
  public long totalBytes() {
    return weightBytes + gradientBytes + optimizerStateBytes + compressionBytes + activationBytes() + transientBytes
        + overheadBytes;
  }
}
