package org.dsparse.core.compression;

import java.util.Arrays;

/**
 * The {@code k} largest of a stream of (score, index) pairs, kept in a binary min-heap of primitives:
 * {@code O(n log k)} for {@code n} offers, nothing allocated per offer. Of equal scores the lower
 * index wins, so the same stream gives the same set everywhere.
 */
public final class TopK {
  private final float[] scores;
  private final int[] indices;
  private int size;

  public TopK(int k) {
    if (k < 0) {
      throw new IllegalArgumentException("k must be non-negative, got " + k);
    }
    this.scores = new float[k];
    this.indices = new int[k];
  }

  /** The value of coordinate {@code index} of a vector that may be held implicitly (a sketch's estimate). */
  @FunctionalInterface
  interface Values {
    float at(int index);
  }

  /** The {@code k} coordinates of {@code values} with the largest magnitude, in ascending index order. */
  public static int[] ofMagnitudes(float[] values, int k) {
    return ofMagnitudes(k, 0, values.length, i -> values[i]);
  }

  /**
   * The {@code k} coordinates of {@code [from, from + length)} whose values have the largest magnitude,
   * in ascending index order; all of them when there are fewer.
   */
  static int[] ofMagnitudes(int k, int from, int length, Values values) {
    TopK top = new TopK(Math.min(k, length));
    for (int i = from; i < from + length; i++) {
      top.offer(Math.abs(values.at(i)), i);
    }
    return top.indices();
  }

  /** Considers {@code index} with {@code score}; NaN scores count as the largest (they must not hide). */
  public void offer(float score, int index) {
    float s = Float.isNaN(score) ? Float.POSITIVE_INFINITY : score;
    if (size < scores.length) {
      scores[size] = s;
      indices[size] = index;
      up(size++);
    } else if (size > 0 && beats(s, index, scores[0], indices[0])) {
      scores[0] = s;
      indices[0] = index;
      down(0);
    }
  }

  /** The kept indices, ascending. */
  public int[] indices() {
    int[] kept = Arrays.copyOf(indices, size);
    Arrays.sort(kept);
    return kept;
  }

  /** Whether (a, i) ranks above (b, j): a larger score, or an equal one at a lower index. */
  private static boolean beats(float a, int i, float b, int j) {
    return a > b || (a == b && i < j);
  }

  private void up(int at) {
    while (at > 0) {
      int parent = (at - 1) / 2;
      if (!beats(scores[parent], indices[parent], scores[at], indices[at])) {
        return;
      }
      swap(at, parent);
      at = parent;
    }
  }

  private void down(int at) {
    while (true) {
      int left = 2 * at + 1;
      int smallest = at;
      if (left < size && beats(scores[smallest], indices[smallest], scores[left], indices[left])) {
        smallest = left;
      }
      int right = left + 1;
      if (right < size && beats(scores[smallest], indices[smallest], scores[right], indices[right])) {
        smallest = right;
      }
      if (smallest == at) {
        return;
      }
      swap(at, smallest);
      at = smallest;
    }
  }

  private void swap(int a, int b) {
    float s = scores[a];
    scores[a] = scores[b];
    scores[b] = s;
    int i = indices[a];
    indices[a] = indices[b];
    indices[b] = i;
  }
}
