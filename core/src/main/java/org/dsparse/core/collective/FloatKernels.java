package org.dsparse.core.collective;

/** The element-wise loops of the collectives, written so the JIT vectorises them. */
public final class FloatKernels {
  private FloatKernels() {}

  /** {@code target[targetOffset + i] += source[sourceOffset + i]} for {@code i < length}. */
  public static void addInto(float[] target, int targetOffset, float[] source, int sourceOffset, int length) {
    for (int i = 0; i < length; i++) {
      target[targetOffset + i] += source[sourceOffset + i];
    }
  }

  /** {@code target[offset + i] /= divisor} for {@code i < length}. */
  public static void divide(float[] target, int offset, int length, float divisor) {
    for (int i = 0; i < length; i++) {
      target[offset + i] /= divisor;
    }
  }
}
