package org.dsparse.core.data;

import java.util.SplittableRandom;

/**
 * Gamma and Dirichlet variates from a seeded {@link SplittableRandom}, implemented here so the
 * draws are the same on every JDK. Gamma(shape, 1) uses Marsaglia and Tsang's squeeze method
 * (ACM TOMS 26(3), 2000); normal variates use Marsaglia's polar method.
 */
final class GammaSampler {
  private final SplittableRandom random;
  private double spareNormal;
  private boolean hasSpareNormal;

  GammaSampler(SplittableRandom random) {
    this.random = random;
  }

  /**
   * A Dirichlet(alpha, ..., alpha) vector of {@code size} proportions summing to 1. Works on log
   * Gamma variates because for small alpha (say 0.01) the variates underflow to zero as doubles.
   */
  double[] symmetricDirichlet(double alpha, int size) {
    double[] logs = new double[size];
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < size; i++) {
      logs[i] = logGamma(alpha);
      max = Math.max(max, logs[i]);
    }
    double sum = 0;
    for (int i = 0; i < size; i++) {
      logs[i] = Math.exp(logs[i] - max);
      sum += logs[i];
    }
    for (int i = 0; i < size; i++) {
      logs[i] /= sum;
    }
    return logs;
  }

  /**
   * The logarithm of a Gamma(shape, 1) variate. Below shape 1 it boosts: if G ~ Gamma(shape + 1)
   * and U ~ Uniform(0, 1] then G * U^(1/shape) ~ Gamma(shape).
   */
  double logGamma(double shape) {
    if (!(shape > 0) || Double.isInfinite(shape)) {
      throw new IllegalArgumentException("Gamma shape must be positive and finite, got " + shape);
    }
    if (shape < 1) {
      return Math.log(gammaAtLeastOne(shape + 1)) + Math.log(uniformOpenAtZero()) / shape;
    }
    return Math.log(gammaAtLeastOne(shape));
  }

  private double gammaAtLeastOne(double shape) {
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / Math.sqrt(9.0 * d);
    while (true) {
      double x;
      double v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      double u = uniformOpenAtZero();
      double xSquared = x * x;
      if (u < 1.0 - 0.0331 * xSquared * xSquared) {
        return d * v;
      }
      if (Math.log(u) < 0.5 * xSquared + d * (1.0 - v + Math.log(v))) {
        return d * v;
      }
    }
  }

  private double normal() {
    if (hasSpareNormal) {
      hasSpareNormal = false;
      return spareNormal;
    }
    double u;
    double v;
    double s;
    do {
      u = 2.0 * random.nextDouble() - 1.0;
      v = 2.0 * random.nextDouble() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double scale = Math.sqrt(-2.0 * Math.log(s) / s);
    spareNormal = v * scale;
    hasSpareNormal = true;
    return u * scale;
  }

  /** Uniform on (0, 1], so its logarithm is finite. */
  private double uniformOpenAtZero() {
    return 1.0 - random.nextDouble();
  }
}
