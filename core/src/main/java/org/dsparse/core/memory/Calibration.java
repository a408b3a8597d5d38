package org.dsparse.core.memory;

import java.util.List;

/**
 * Fits {@link MemoryCoefficients} to measured peaks by non-negative least squares on relative error,
 * so that a small device's prediction counts as much as a large one's.
 *
 * <p>With four unknowns the exact non-negative solution is found by trying every subset of free
 * coefficients (the rest held at zero) and keeping the best feasible one.
 */
public final class Calibration {
  private static final int UNKNOWNS = 4;

  private Calibration() {}

  /** A calibration row with the peak that was measured for it. */
  public record Measured(CalibrationRow row, long measuredBytes) {
    public Measured {
      if (measuredBytes <= 0) {
        throw new IllegalArgumentException("measured peak must be positive, got " + measuredBytes);
      }
    }
  }

  public static MemoryCoefficients fit(List<Measured> samples) {
    if (samples.size() < UNKNOWNS) {
      throw new IllegalArgumentException(
          "calibration needs at least " + UNKNOWNS + " measured runs, got " + samples.size());
    }
    double bestError = Double.POSITIVE_INFINITY;
    double[] best = new double[UNKNOWNS];
    for (int mask = 1; mask < (1 << UNKNOWNS); mask++) {
      double[] x = solve(samples, mask);
      if (x == null) {
        continue;
      }
      double error = squaredRelativeError(samples, x);
      if (error < bestError) {
        bestError = error;
        best = x;
      }
    }
    return new MemoryCoefficients(best[0], best[1], best[2], Math.round(best[3]));
  }

  /** The largest relative error |predicted - measured| / measured of {@code c} over the samples. */
  public static double worstRelativeError(List<Measured> samples, MemoryCoefficients c) {
    double[] x = {c.updatedActivationFactor(), c.passThroughActivationFactor(), c.transientFactor(),
        c.fixedOverheadBytes()};
    double worst = 0;
    for (Measured s : samples) {
      worst = Math.max(worst, Math.abs(predict(s.row(), x) - s.measuredBytes()) / s.measuredBytes());
    }
    return worst;
  }

  private static double[] features(CalibrationRow row) {
    return new double[] {row.updatedActivationBytes(), row.passThroughActivationBytes(),
        row.transientBytes(), row.training()};
  }

  private static double predict(CalibrationRow row, double[] x) {
    double[] f = features(row);
    double p = row.exactBytes();
    for (int j = 0; j < UNKNOWNS; j++) {
      p += f[j] * x[j];
    }
    return p;
  }

  private static double squaredRelativeError(List<Measured> samples, double[] x) {
    double sum = 0;
    for (Measured s : samples) {
      double r = (predict(s.row(), x) - s.measuredBytes()) / s.measuredBytes();
      sum += r * r;
    }
    return sum;
  }

  /** Weighted least squares over the coefficients in {@code mask}; null if singular or negative. */
  private static double[] solve(List<Measured> samples, int mask) {
    int[] free = java.util.stream.IntStream.range(0, UNKNOWNS).filter(j -> (mask & (1 << j)) != 0)
        .toArray();
    int k = free.length;
    double[][] a = new double[k][k + 1];
    for (Measured s : samples) {
      double w = 1.0 / s.measuredBytes();
      double[] f = features(s.row());
      double target = (s.measuredBytes() - s.row().exactBytes()) * w;
      for (int r = 0; r < k; r++) {
        double fr = f[free[r]] * w;
        for (int c = 0; c < k; c++) {
          a[r][c] += fr * f[free[c]] * w;
        }
        a[r][k] += fr * target;
      }
    }
    double[] solution = gauss(a);
    if (solution == null) {
      return null;
    }
    double[] x = new double[UNKNOWNS];
    for (int r = 0; r < k; r++) {
      if (solution[r] < 0) {
        return null;
      }
      x[free[r]] = solution[r];
    }
    return x;
  }

  private static double[] gauss(double[][] a) {
    int n = a.length;
    for (int col = 0; col < n; col++) {
      int pivot = col;
      for (int r = col + 1; r < n; r++) {
        if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) {
          pivot = r;
        }
      }
      if (Math.abs(a[pivot][col]) < 1e-300) {
        return null;
      }
      double[] tmp = a[col];
      a[col] = a[pivot];
      a[pivot] = tmp;
      for (int r = 0; r < n; r++) {
        if (r != col) {
          double factor = a[r][col] / a[col][col];
          for (int c = col; c <= n; c++) {
            a[r][c] -= factor * a[col][c];
          }
        }
      }
    }
    double[] x = new double[n];
    for (int r = 0; r < n; r++) {
      x[r] = a[r][n] / a[r][r];
    }
    return x;
  }
}
