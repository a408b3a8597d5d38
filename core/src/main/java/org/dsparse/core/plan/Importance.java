package org.dsparse.core.plan;

import java.util.Arrays;
import java.util.List;
import org.dsparse.core.memory.LayerCost;

/**
 * How much updating each layer is worth, normalised to sum to 1 so that a plan's quality (the
 * importance-weighted share of the cluster's data each layer learns from) is 1 for data-parallel.
 */
public final class Importance {
  private final double[] weights;

  private Importance(double[] weights) {
    this.weights = weights;
  }

  /**
   * Later layers first, rising linearly with depth. On-device sparse-update work (Lin et al., 2022,
   * "On-Device Training Under 256KB Memory") measured that updating the last blocks recovers most
   * of the accuracy of full fine-tuning and the first blocks the least; with no measurement of this
   * model, a linear ramp is the least-assuming rule that honours that ordering while keeping early
   * layers worth covering.
   */
  public static Importance positional(List<LayerCost> layers) {
    requireLayers(layers);
    double[] w = new double[layers.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = i + 1;
    }
    return normalised(w);
  }

  /**
   * From measured gradient norms, one per layer: importance is proportional to {@code ||g||^2}, the
   * first-order loss decrease of one gradient step on that layer ({@code dL = -lr * ||g||^2}). It is
   * deliberately not divided by the layer's size: the planner already charges a layer's memory and
   * communication, so dividing here would count size twice.
   */
  public static Importance fromGradientNorms(double[] gradientNorms, List<LayerCost> layers) {
    requireLayers(layers);
    if (gradientNorms.length != layers.size()) {
      throw new IllegalArgumentException("gradient norms given for " + gradientNorms.length
          + " layers, the model has " + layers.size());
    }
    double[] w = new double[gradientNorms.length];
    for (int i = 0; i < w.length; i++) {
      double g = gradientNorms[i];
      if (!(g >= 0) || Double.isInfinite(g)) {
        throw new IllegalArgumentException("layer " + i + " (" + layers.get(i).name()
            + "): gradient norm must be a finite non-negative number, got " + g);
      }
      w[i] = g * g;
    }
    if (Arrays.stream(w).sum() == 0) {
      throw new IllegalArgumentException("every gradient norm is zero: nothing to rank layers by");
    }
    return normalised(w);
  }

  /** Explicit weights, one per layer, normalised; for callers with their own measure. */
  public static Importance of(double... weights) {
    if (weights.length == 0) {
      throw new IllegalArgumentException("importance needs at least one layer");
    }
    for (int i = 0; i < weights.length; i++) {
      if (!(weights[i] >= 0) || Double.isInfinite(weights[i])) {
        throw new IllegalArgumentException(
            "layer " + i + ": importance must be a finite non-negative number, got " + weights[i]);
      }
    }
    if (Arrays.stream(weights).sum() == 0) {
      throw new IllegalArgumentException("every importance is zero");
    }
    return normalised(weights.clone());
  }

  private static void requireLayers(List<LayerCost> layers) {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("importance needs at least one layer");
    }
  }

  private static Importance normalised(double[] w) {
    double sum = Arrays.stream(w).sum();
    for (int i = 0; i < w.length; i++) {
      w[i] /= sum;
    }
    return new Importance(w);
  }

  public int layerCount() {
    return weights.length;
  }

  public double weight(int layer) {
    return weights[layer];
  }

  /** Layer indices from most to least important; ties go to the later layer. */
  public int[] order() {
    return java.util.stream.IntStream.range(0, weights.length).boxed()
        .sorted((a, b) -> weights[a] != weights[b] ? Double.compare(weights[b], weights[a])
            : Integer.compare(b, a))
        .mapToInt(Integer::intValue).toArray();
  }

  @Override
  public String toString() {
    return Arrays.toString(weights);
  }
}
