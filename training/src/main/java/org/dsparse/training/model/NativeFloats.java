package org.dsparse.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Java floats into tensors without leaving garbage in native memory.
 *
 * <p>Why: DJL's {@code manager.create(float[])} copies into a fresh direct ByteBuffer that the tensor
 * then points at, and only the garbage collector frees it. Under a large, quiet heap those buffers
 * pile up for many steps (a whole AllReduce payload per step), which inflates resident memory and
 * spoils memory measurements. Here the floats pass through a reused staging buffer (one per thread;
 * in practice the DJL thread's) into memory PyTorch owns, which closing the tensor frees at once.
 */
public final class NativeFloats {
  private static final ThreadLocal<ByteBuffer> STAGING =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(0));

  private NativeFloats() {}

  /** A tensor of {@code shape} holding {@code floats[offset, offset + shape.size())}, owning its memory. */
  public static NDArray tensor(NDManager manager, float[] floats, int offset, Shape shape) {
    try (NDArray view = stagingView(manager, floats, offset, shape)) {
      return view.duplicate();
    }
  }

  /**
   * Hands {@code use} a temporary tensor of {@code shape} over {@code floats[offset, ...)}, e.g. to copy
   * it into a parameter in place; the tensor is gone when {@code use} returns.
   */
  public static void withView(NDManager manager, float[] floats, int offset, Shape shape,
      java.util.function.Consumer<NDArray> use) {
    try (NDArray view = stagingView(manager, floats, offset, shape)) {
      use.accept(view);
    }
  }

  /**
   * Makes this thread's staging buffer hold at least {@code floats} floats, e.g. a model's largest
   * tensor, so that later calls do not grow it.
   */
  public static void reserve(long floats) {
    staging(Math.toIntExact(floats * Float.BYTES));
  }

  private static ByteBuffer staging(int bytes) {
    ByteBuffer staging = STAGING.get();
    if (staging.capacity() < bytes) {
      staging = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
      STAGING.set(staging);
    }
    return staging;
  }

  /** A tensor over the staging buffer: valid until the next call, so it must be closed before that. */
  private static NDArray stagingView(NDManager manager, float[] floats, int offset, Shape shape) {
    int n = Math.toIntExact(shape.size());
    int bytes = n * Float.BYTES;
    ByteBuffer staging = staging(bytes);
    ByteBuffer view = staging.duplicate().order(ByteOrder.nativeOrder());
    view.clear().limit(bytes);
    view.asFloatBuffer().put(floats, offset, n);
    return manager.create(view, shape, DataType.FLOAT32);
  }
}
