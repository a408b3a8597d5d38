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
public final class SketchedGradients extends ErrorFeedbackCompressor {
  public SketchedGradients(int dimension, Compression settings, int members) {
    super(dimension, settings, members, Compression.Kind.SKETCH);
  }

  /**
   * Round 1: adds {@code gradient} (the region {@code [offset, offset + gradient.length)}) to the
   * residual and answers the residual's sketch, hashed with {@code seed} (the same on every member).
   */
  public float[] sketch(int offset, float[] gradient, Compression.Sizes sizes, long seed) {
    float[] residual = accumulate(offset, gradient);
    CountSketch sketch = new CountSketch(sizes.rows(), sizes.columns(), seed);
    sketch.add(residual, offset, gradient.length, offset);
    return sketch.table();
  }

  /** Round 2, first half: the region's {@code k} heaviest coordinates in the averaged sketch, as offsets. */
  public int[] candidates(int offset, int length, float[] averagedTable, Compression.Sizes sizes, long seed) {
    CountSketch sketch = CountSketch.over(averagedTable, sizes.rows(), sizes.columns(), seed);
    return TopK.ofMagnitudes(sizes.k(), offset, length, sketch::estimate);
  }

  /** Round 2, second half: this member's exact residual values at {@code candidates}, now sent. */
  public float[] values(int[] candidates) {
    return residual().takeSent(candidates);
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
