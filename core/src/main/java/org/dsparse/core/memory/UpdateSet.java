package org.dsparse.core.memory;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Which layers of a model a device updates, and for each, the fraction of its output channels
 * (1 = the whole layer, 0 = frozen). Immutable.
 */
public final class UpdateSet {
  private final double[] fractions;

  private UpdateSet(double[] fractions) {
    for (int i = 0; i < fractions.length; i++) {
      double f = fractions[i];
      if (!(f >= 0 && f <= 1)) {
        throw new IllegalArgumentException("layer " + i + ": channel fraction " + f + " not in [0, 1]");
      }
    }
    this.fractions = fractions;
  }

  /** Every layer updated whole: the full-update baseline. */
  public static UpdateSet all(int layerCount) {
    double[] f = new double[layerCount];
    Arrays.fill(f, 1.0);
    return new UpdateSet(f);
  }

  /** Nothing updated. */
  public static UpdateSet none(int layerCount) {
    return new UpdateSet(new double[layerCount]);
  }

  /** The given layers updated whole. */
  public static UpdateSet of(int layerCount, BitSet layers) {
    if (layers.length() > layerCount) {
      throw new IllegalArgumentException("layer " + (layers.length() - 1) + " outside a model of "
          + layerCount + " layers");
    }
    double[] f = new double[layerCount];
    layers.stream().forEach(i -> f[i] = 1.0);
    return new UpdateSet(f);
  }

  /** The given layers updated whole. */
  public static UpdateSet of(int layerCount, int... layers) {
    BitSet set = new BitSet();
    for (int layer : layers) {
      if (layer < 0) {
        throw new IllegalArgumentException("negative layer index " + layer);
      }
      set.set(layer);
    }
    return of(layerCount, set);
  }

  /** The last {@code k} layers updated whole. */
  public static UpdateSet lastLayers(int layerCount, int k) {
    BitSet set = new BitSet();
    set.set(Math.max(0, layerCount - k), layerCount);
    return of(layerCount, set);
  }

  /**
   * Parses a user's layer selection against a model's layer names: {@code all}, {@code none},
   * {@code last:K} (the last K layers), {@code from:NAME} (NAME and every layer after it), or a
   * comma-separated list of layer names.
   */
  public static UpdateSet parse(String spec, java.util.List<String> layerNames) {
    String text = spec.trim();
    int n = layerNames.size();
    if (text.equals("all")) {
      return all(n);
    }
    if (text.equals("none")) {
      return none(n);
    }
    if (text.startsWith("last:")) {
      int k;
      try {
        k = Integer.parseInt(text.substring(5).trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("update '" + spec + "': last:K needs a number of layers");
      }
      if (k < 0 || k > n) {
        throw new IllegalArgumentException("update '" + spec + "': K must be in 0.." + n);
      }
      return lastLayers(n, k);
    }
    if (text.startsWith("from:")) {
      int first = indexOf(text.substring(5).trim(), layerNames, spec);
      return lastLayers(n, n - first);
    }
    BitSet set = new BitSet();
    for (String name : text.split(",")) {
      set.set(indexOf(name.trim(), layerNames, spec));
    }
    return of(n, set);
  }

  private static int indexOf(String name, java.util.List<String> layerNames, String spec) {
    int index = layerNames.indexOf(name);
    if (index < 0) {
      throw new IllegalArgumentException("update '" + spec + "': no layer '" + name
          + "'; the layers are " + layerNames);
    }
    return index;
  }

  /** Per-layer channel fractions, each in [0, 1]. */
  public static UpdateSet ofFractions(double[] fractions) {
    return new UpdateSet(fractions.clone());
  }

  /** A copy with one layer's fraction replaced. */
  public UpdateSet with(int layer, double fraction) {
    double[] f = fractions.clone();
    f[layer] = fraction;
    return new UpdateSet(f);
  }

  public int layerCount() {
    return fractions.length;
  }

  public double fraction(int layer) {
    return fractions[layer];
  }

  public boolean isUpdated(int layer) {
    return fractions[layer] > 0;
  }

  public boolean isEmpty() {
    return firstUpdated() < 0;
  }

  /** The earliest updated layer, where recording starts; -1 if none. */
  public int firstUpdated() {
    for (int i = 0; i < fractions.length; i++) {
      if (fractions[i] > 0) {
        return i;
      }
    }
    return -1;
  }

  /** The updated layers, whole or partial. */
  public BitSet layers() {
    BitSet set = new BitSet(fractions.length);
    for (int i = 0; i < fractions.length; i++) {
      if (fractions[i] > 0) {
        set.set(i);
      }
    }
    return set;
  }

  public int count() {
    return layers().cardinality();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof UpdateSet other && Arrays.equals(fractions, other.fractions);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(fractions);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("{");
    for (int i = 0; i < fractions.length; i++) {
      if (fractions[i] > 0) {
        if (s.length() > 1) {
          s.append(", ");
        }
        s.append(i);
        if (fractions[i] < 1) {
          s.append(String.format("@%.2f", fractions[i]));
        }
      }
    }
    return s.append('}').toString();
  }
}
