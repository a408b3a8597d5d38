package org.dsparse.protocol.collective;

import java.util.Objects;

/**
 * A view of {@code length} floats of {@code array} starting at {@code offset}. Chunks carry slices
 * of the collective's buffer so that sending does not copy; the serializer copies exactly once,
 * into the network buffer.
 */
public record FloatSlice(float[] array, int offset, int length) {
  public FloatSlice {
    Objects.requireNonNull(array, "array");
    Objects.checkFromIndexSize(offset, length, array.length);
  }

  public static FloatSlice of(float[] array) {
    return new FloatSlice(array, 0, array.length);
  }

  public float get(int i) {
    return array[offset + Objects.checkIndex(i, length)];
  }

  /** Equal when the viewed floats are bit-for-bit equal, wherever they live. */
  @Override
  public boolean equals(Object other) {
    if (!(other instanceof FloatSlice that) || that.length != length) {
      return false;
    }
    return java.util.Arrays.equals(array, offset, offset + length, that.array, that.offset, that.offset + length);
  }

  @Override
  public int hashCode() {
    int hash = length;
    for (int i = 0; i < length; i++) {
      hash = 31 * hash + Float.floatToIntBits(array[offset + i]);
    }
    return hash;
  }

  @Override
  public String toString() {
    return "FloatSlice[" + length + " floats]";
  }
}
