package org.dsparse.core.compression;

/**
 * Top-k with error feedback for one process group's gradient vector, on one member: the baseline
 * gs-SGD is measured against. Each step the member adds its gradient to its residual, selects the
 * residual's {@code k} largest coordinates locally, sends them as (index, value) pairs and zeroes
 * them in its residual; the group AllGathers every member's pairs and every member adds them up in
 * rank order and divides by the members: the same sparse mean gradient everywhere. Its traffic grows
 * with the group ({@code (P-1) * 2k} floats sent per member), which is what global sketching avoids.
 */
public final class TopKGradients extends ErrorFeedbackCompressor {
  public TopKGradients(int dimension, Compression settings, int members) {
    super(dimension, settings, members, Compression.Kind.TOPK);
  }

  /**
   * Adds {@code gradient} (the region at {@code offset}) to the residual, takes its {@code k} largest
   * coordinates out, and answers them as this member's AllGather part: {@code k} indices (offsets into
   * the region, as float bits: copied, never computed on) then their {@code k} values.
   */
  public float[] select(int offset, float[] gradient, Compression.Sizes sizes) {
    float[] values = accumulate(offset, gradient);
    int[] chosen = TopK.ofMagnitudes(sizes.k(), 0, gradient.length, i -> values[offset + i]);
    int k = sizes.k();
    float[] part = new float[2 * k];
    for (int j = 0; j < chosen.length; j++) {
      part[j] = Float.intBitsToFloat(chosen[j]);
      part[k + j] = values[offset + chosen[j]];
      values[offset + chosen[j]] = 0f;
    }
    // A region shorter than k pads with index -1, which no member reads as a coordinate.
    for (int j = chosen.length; j < k; j++) {
      part[j] = Float.intBitsToFloat(-1);
    }
    return part;
  }

  /**
   * The region's mean sparse gradient, dense, from the AllGathered parts ({@code members} parts of
   * {@code 2k} floats each, in rank order). Indices outside the region are refused.
   */
  public static float[] expand(int length, float[] gathered, int members, int k) {
    if (gathered.length != (long) members * 2 * k) {
      throw new IllegalArgumentException(gathered.length + " gathered floats for " + members + " parts of "
          + 2 * k);
    }
    float[] dense = new float[length];
    for (int m = 0; m < members; m++) {
      int base = m * 2 * k;
      for (int j = 0; j < k; j++) {
        int index = Float.floatToRawIntBits(gathered[base + j]);
        if (index == -1) {
          continue;
        }
        if (index < 0 || index >= length) {
          throw new IllegalArgumentException("member " + m + " sent coordinate " + index + " outside the region of "
              + length);
        }
        dense[index] += gathered[base + k + j];
      }
    }
    for (int i = 0; i < length; i++) {
      dense[i] /= members;
    }
    return dense;
  }
}
