package org.dsparse.core.compression;

import java.util.Arrays;

/**
 * The error-feedback residual of one compressed gradient vector: what was computed and not yet
 * sent. Each step adds its gradient to it, the compressor sends some coordinates' values, and the
 * residual keeps exactly the rest ({@link #markSent}), so every gradient component is sent once,
 * sooner or later, and none is lost.
 */
public final class ErrorFeedback {
  private final float[] residual;

  public ErrorFeedback(int dimension) {
    this.residual = new float[dimension];
  }

  public int dimension() {
    return residual.length;
  }

  /** Adds {@code gradient[from .. from+length)} at {@code offset}; the sum is what compresses next. */
  public void add(float[] gradient, int from, int offset, int length) {
    for (int i = 0; i < length; i++) {
      residual[offset + i] += gradient[from + i];
    }
  }

  /** The accumulated value of coordinate {@code index}. */
  public float get(int index) {
    return residual[index];
  }

  /** The live residual (read-only by convention): what a sketch or a selection reads. */
  public float[] values() {
    return residual;
  }

  /** The values at {@code indices} (offsets into the vector), taken out: they are being sent. */
  public float[] takeSent(int[] indices) {
    float[] sent = new float[indices.length];
    for (int i = 0; i < indices.length; i++) {
      sent[i] = residual[indices[i]];
      residual[indices[i]] = 0f;
    }
    return sent;
  }

  /** Zeroes {@code indices}: their values have been sent. */
  public void markSent(int[] indices) {
    for (int index : indices) {
      residual[index] = 0f;
    }
  }

  /** Forgets everything (a re-plan changed what the vector is). */
  public void clear() {
    Arrays.fill(residual, 0f);
  }
}
