package org.dsparse.core.compression;

/**
 * gs-SGD for one process group's gradient vector, on one member (Global-Sketching SGD; the same
 * exchange as Sketched-SGD): each step
 * <ol>
 *   <li>{@link #sketch}: the member adds its gradient to its error-feedback residual and sketches the
 *       residual; the group AllReduces the sketches (linear: the mean of the sketches is the sketch of
 *       the mean residual);
 *   <li>{@link #candidates}: every member recovers the same {@code k} heaviest coordinates from the
 *       identical averaged sketch;
 *   <li>{@link #values}: the member sends its exact residual values at those coordinates and zeroes
 *       them in its residual (they are sent); the group AllReduces these {@code k} values;
 *   <li>{@link #expand}: every member writes the averaged values into a dense gradient, zeros
 *       elsewhere, and steps its optimizer with it: the same update on every member.
 * </ol>
 * The vector may be compressed in regions (the backward's segments with overlap); a region's
 * coordinates are its offsets into the whole vector, so the residual and the hashes stay the same
 * whatever the cut. Momentum is the optimizer's, applied after the exchange to the identical
 * averaged gradient (see {@code README}, "Gradient compression").
 */
public final class SketchedGradients {
  private final Compression settings;
  private final int members;
  private final ErrorFeedback residual;

  public SketchedGradients(int dimension, Compression settings, int members) {
    if (settings.kind() != Compression.Kind.SKETCH) {
      throw new IllegalArgumentException("SketchedGradients needs kind SKETCH, got " + settings.kind());
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
   * Round 1: adds {@code gradient} (the region {@code [offset, offset + gradient.length)}) to the
   * residual and answers the residual's sketch, hashed with {@code seed} (the same on every member).
   */
  public float[] sketch(int offset, float[] gradient, Compression.Sizes sizes, long seed) {
    residual.add(gradient, 0, offset, gradient.length);
    CountSketch sketch = new CountSketch(sizes.rows(), sizes.columns(), seed);
    sketch.add(residual.values(), offset, gradient.length, offset);
    return sketch.table();
  }

  /** Round 2, first half: the region's {@code k} heaviest coordinates in the averaged sketch, as offsets. */
  public int[] candidates(int offset, int length, float[] averagedTable, Compression.Sizes sizes, long seed) {
    CountSketch sketch = CountSketch.over(averagedTable, sizes.rows(), sizes.columns(), seed);
    TopK top = new TopK(Math.min(sizes.k(), length));
    for (int i = 0; i < length; i++) {
      top.offer(Math.abs(sketch.estimate(offset + (long) i)), offset + i);
    }
    return top.indices();
  }

  /** Round 2, second half: this member's exact residual values at {@code candidates}, now sent. */
  public float[] values(int[] candidates) {
    return residual.takeSent(candidates);
  }

  /** The region's averaged sparse gradient, dense: {@code averaged} at {@code candidates}, zeros elsewhere. */
  public static float[] expand(int offset, int length, int[] candidates, float[] averaged) {
    float[] dense = new float[length];
    for (int i = 0; i < candidates.length; i++) {
      dense[candidates[i] - offset] = averaged[i];
    }
    return dense;
  }
}
