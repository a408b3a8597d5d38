package org.dsparse.core.submodel;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * One device's sub-model of a plain CNN: the filters it keeps in each convolution layer and the
 * classes its classifier keeps (their rows), each ascending. The sub-model is the full model with the
 * other filters and classes removed: each kept filter reads the kept filters of the layer below.
 *
 * @param filters per convolution layer, the kept filters' indices in the full model
 * @param classes the kept classes' indices
 */
public record SubModelSpec(int[][] filters, int[] classes) {
  public SubModelSpec {
    filters = Arrays.stream(filters).map(SubModelSpec::ascending).toArray(int[][]::new);
    classes = ascending(classes);
    for (int l = 0; l < filters.length; l++) {
      if (filters[l].length == 0) {
        throw new IllegalArgumentException("a sub-model keeps no filter of layer " + l);
      }
    }
    if (classes.length == 0) {
      throw new IllegalArgumentException("a sub-model keeps no class");
    }
  }

  private static int[] ascending(int[] indices) {
    int[] sorted = indices.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < sorted.length; i++) {
      if (sorted[i] < 0 || (i > 0 && sorted[i] == sorted[i - 1])) {
        throw new IllegalArgumentException("indices must be distinct and not negative: " + Arrays.toString(indices));
      }
    }
    return sorted;
  }

  /** Filters kept per convolution layer. */
  public int[] widths() {
    return Arrays.stream(filters).mapToInt(f -> f.length).toArray();
  }

  /**
   * The sub-model that keeps, in every layer, the {@code keep} share of filters (at least one) most
   * relevant to {@code classes}: those with the largest mean relevance over the classes.
   *
   * @param relevance per convolution layer, per filter, per class of the full model (e.g. the
   *     filter's mean activation on the class's samples)
   */
  public static SubModelSpec mostRelevant(double[][][] relevance, int[] classes, double keep) {
    int[] ones = new int[relevance.length];
    Arrays.fill(ones, 1);
    return mostRelevant(relevance, classes, keep, ones);
  }

  /**
   * The same, each layer's count of kept filters rounded up to a multiple of {@code multiples[l]}
   * (at most all of the layer's filters).
   */
  public static SubModelSpec mostRelevant(double[][][] relevance, int[] classes, double keep, int[] multiples) {
    if (!(keep > 0 && keep <= 1)) {
      throw new IllegalArgumentException("the share of filters kept must be in (0, 1], got " + keep);
    }
    if (multiples.length != relevance.length) {
      throw new IllegalArgumentException("a multiple of filters per layer: " + relevance.length + " layers, got "
          + multiples.length);
    }
    int[][] filters = new int[relevance.length][];
    for (int l = 0; l < relevance.length; l++) {
      if (multiples[l] < 1) {
        throw new IllegalArgumentException("layer " + l + " keeps a multiple of " + multiples[l] + " filters");
      }
      double[][] layer = relevance[l];
      double[] score = new double[layer.length];
      for (int f = 0; f < layer.length; f++) {
        for (int c : classes) {
          if (c < 0 || c >= layer[f].length) {
            throw new IllegalArgumentException("class " + c + ": the relevance covers " + layer[f].length + " classes");
          }
          score[f] += layer[f][c] / classes.length;
        }
      }
      int count = Math.max(1, (int) Math.round(keep * layer.length));
      count = Math.min(layer.length, (count + multiples[l] - 1) / multiples[l] * multiples[l]);
      filters[l] = IntStream.range(0, layer.length).boxed()
          .sorted(Comparator.comparingDouble((Integer f) -> -score[f]).thenComparingInt(f -> f))
          .limit(count).mapToInt(Integer::intValue).toArray();
    }
    return new SubModelSpec(filters, classes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SubModelSpec other && Arrays.deepEquals(filters, other.filters)
        && Arrays.equals(classes, other.classes);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.deepHashCode(filters) + Arrays.hashCode(classes);
  }

  @Override
  public String toString() {
    return "filters " + Arrays.toString(widths()) + ", classes " + Arrays.toString(classes);
  }
}
