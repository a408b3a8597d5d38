package org.dsparse.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Rows {@code [from, to)} of a tensor's first axis. Rows of a row-major tensor are contiguous, so a
 * range is one run of floats; a 0-dimensional tensor counts as a single row.
 *
 * @param from first row
 * @param to one past the last row
 * @param rows the tensor's rows
 * @param rowElements floats per row
 */
public record RowRange(long from, long to, long rows, long rowElements) {
  public long elements() {
    return (to - from) * rowElements;
  }

  public boolean isEmpty() {
    return to == from;
  }

  public boolean wholeTensor() {
    return from == 0 && to == rows;
  }

  private NDIndex index() {
    return wholeTensor() ? new NDIndex("...") : new NDIndex().addSliceDim(from, to);
  }

  /** Copies these rows of {@code array} into {@code flat} at {@code offset}; returns the offset after them. */
  public int copyOut(NDArray array, float[] flat, int offset) {
    if (isEmpty()) {
      return offset;
    }
    if (wholeTensor()) {
      return copyWhole(array, flat, offset);
    }
    try (NDArray part = array.get(index())) {
      return copyWhole(part, flat, offset);
    }
  }

  /** Overwrites these rows of {@code target} in place from {@code flat} at {@code offset}; returns the offset after them. */
  public int copyIn(float[] flat, int offset, NDArray target) {
    if (isEmpty()) {
      return offset;
    }
    Shape shape = wholeTensor() ? target.getShape()
        : new Shape(to - from).addAll(target.getShape().slice(1));
    int n = Math.toIntExact(elements());
    NativeFloats.withView(target.getManager(), flat, offset, shape, source -> restore(target, source));
    return offset + n;
  }

  private static int copyWhole(NDArray array, float[] flat, int offset) {
    ByteBuffer bytes = array.toByteBuffer(true).order(ByteOrder.nativeOrder());
    int n = Math.toIntExact(array.size());
    bytes.asFloatBuffer().get(flat, offset, n);
    return offset + n;
  }

  /** A copy of these rows, detached from {@code array}'s storage. */
  public NDArray copyOf(NDArray array) {
    try (NDArray storage = array.stopGradient(); NDArray view = storage.get(index())) {
      return view.duplicate();
    }
  }

  /** Overwrites these rows of {@code target} with {@code rows} (shaped as {@link #copyOf} returns them). */
  public void restore(NDArray target, NDArray rows) {
    // Written through a detached alias of the same storage: autograd refuses in-place writes to a
    // weight that requires a gradient whenever grad mode happens to be on.
    try (NDArray storage = target.stopGradient()) {
      storage.set(index(), rows);
    }
  }

  /** Sets these rows of {@code target} to zero. */
  public void zero(NDArray target) {
    try (NDArray storage = target.stopGradient()) {
      storage.set(index(), 0f);
    }
  }
}
