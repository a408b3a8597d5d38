package org.dsparse.core.tiling;

/**
 * A convolution's or pooling's sliding window along one spatial axis: output {@code o} reads inputs
 * {@code o * stride - padding + j * dilation} for {@code j} in {@code [0, kernel)}, positions outside
 * the input being padding (zeros for a convolution). Element-wise layers (BatchNorm, activations)
 * have the {@link #IDENTITY} window.
 */
public record Window(int kernel, int stride, int padding, int dilation) {
  public static final Window IDENTITY = new Window(1, 1, 0, 1);

  public Window {
    if (kernel < 1 || stride < 1 || dilation < 1 || padding < 0) {
      throw new IllegalArgumentException("a window needs kernel, stride and dilation of at least 1 and padding of"
          + " at least 0, got kernel " + kernel + ", stride " + stride + ", padding " + padding + ", dilation " + dilation);
    }
  }

  /** The extent one output reads: {@code dilation * (kernel - 1) + 1}. */
  public int extent() {
    return dilation * (kernel - 1) + 1;
  }

  /** The output size for an input of {@code size} (as PyTorch computes it: rounding down). */
  public int outputSize(int size) {
    int out = Math.floorDiv(size + 2 * padding - extent(), stride) + 1;
    if (out < 1) {
      throw new IllegalArgumentException("a window of extent " + extent() + " with padding " + padding
          + " does not fit an input of " + size);
    }
    return out;
  }

  /**
   * The input positions outputs {@code output} read, not clipped: before 0 or at and beyond the
   * input's size they are padding.
   */
  public Span inputFor(Span output) {
    if (output.isEmpty()) {
      return new Span(output.from() * stride - padding, output.from() * stride - padding);
    }
    return new Span(output.from() * stride - padding, (output.to() - 1) * stride - padding + extent());
  }

  /** What a tile must hold of an input of {@code size} to compute {@code output}, and the padding at its borders. */
  public Need need(Span output, int size) {
    Span wanted = inputFor(output);
    int before = Math.min(Math.max(0, -wanted.from()), wanted.length());
    int after = Math.min(Math.max(0, wanted.to() - size), wanted.length() - before);
    return new Need(wanted.clip(size), before, after);
  }

  /**
   * An input span a tile holds and the zero padding to add around it, so that a window with no
   * padding of its own computes the tile's outputs exactly.
   */
  public record Need(Span held, int padBefore, int padAfter) {}
}
