package org.dsparse.core.compression;

/**
 * What gs-SGD ({@link SketchedGradients}) and the Top-k baseline ({@link TopKGradients}) share on
 * one member: the group's settings, and the error-feedback residual each region's gradient is added
 * to before the compressor chooses which of its coordinates to send.
 */
abstract class ErrorFeedbackCompressor {
  private final Compression settings;
  private final int members;
  private final ErrorFeedback residual;

  ErrorFeedbackCompressor(int dimension, Compression settings, int members, Compression.Kind kind) {
    if (settings.kind() != kind) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " needs kind " + kind + ", got "
          + settings.kind());
    }
    this.settings = settings;
    this.members = members;
    this.residual = new ErrorFeedback(dimension);
  }

  /** The sizes for a region of {@code length} floats (dense when the settings cannot compress it). */
  public Compression.Sizes sizes(int length) {
    return settings.plan(length, members);
  }

  public ErrorFeedback residual() {
    return residual;
  }

  /**
   * Adds {@code gradient} (the region {@code [offset, offset + gradient.length)}) to the residual and
   * answers the live residual, from which the region is then compressed.
   */
  final float[] accumulate(int offset, float[] gradient) {
    residual.add(gradient, 0, offset, gradient.length);
    return residual.values();
  }
}
