package org.dsparse.core.memory;

import java.util.List;
import java.util.stream.IntStream;

/**
 * Fits {@link MemoryCoefficients} to measured peaks by non-negative least squares on relative error,
 * so that a small device's prediction counts as much as a large one's.
 *
 * <p>The peak is a maximum of two phases, so each run belongs to one regime: the frozen prefix's
 * forward or the recorded part. Regimes are assigned under the current coefficients, the
 * coefficients refitted, and the two repeated until the assignment stops changing. Each fit finds the
 * exact non-negative solution by trying every subset of free coefficients (the rest held at zero).
 */
public final class Calibration {
  /** updated, pass-through, transient, prefix peak, overhead. */
  private static final int UNKNOWNS = 5;
  private static final int MAX_ROUNDS = 20;

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
    MemoryCoefficients current = MemoryCoefficients.NOMINAL;
    boolean[] regime = regimes(samples, current);
    for (int round = 0; round < MAX_ROUNDS; round++) {
      current = fitRegimes(samples, regime);
      boolean[] next = regimes(samples, current);
      if (java.util.Arrays.equals(next, regime)) {
        break;
      }
      regime = next;
    }
    return current;
  }

  /** The largest relative error |predicted - measured| / measured of {@code c} over the samples. */
  public static double worstRelativeError(List<Measured> samples, MemoryCoefficients c) {
    double worst = 0;
    for (Measured s : samples) {
      worst = Math.max(worst, Math.abs(s.row().predict(c) - s.measuredBytes()) / s.measuredBytes());
    }
    return worst;
  }

  private static boolean[] regimes(List<Measured> samples, MemoryCoefficients c) {
    boolean[] recorded = new boolean[samples.size()];
    for (int i = 0; i < recorded.length; i++) {
      recorded[i] = samples.get(i).row().recordedPhaseDominates(c);
    }
    return recorded;
  }

  /** Features of a row in its regime: the other phase's terms are zero. */
  private static double[] features(CalibrationRow row, boolean recorded) {
    return recorded
        ? new double[] {row.updatedActivationBytes(), row.passThroughActivationBytes(),
            row.transientBytes(), 0, row.training()}
        : new double[] {0, 0, 0, row.prefixPeakBytes(), row.training()};
  }

  private static MemoryCoefficients fitRegimes(List<Measured> samples, boolean[] regime) {
    double bestError = Double.POSITIVE_INFINITY;
    double[] best = new double[UNKNOWNS];
    for (int mask = 1; mask < (1 << UNKNOWNS); mask++) {
      double[] x = solve(samples, regime, mask);
      if (x == null) {
        continue;
      }
      double error = 0;
      for (int i = 0; i < samples.size(); i++) {
        Measured s = samples.get(i);
        double[] f = features(s.row(), regime[i]);
        double p = s.row().exactBytes();
        for (int j = 0; j < UNKNOWNS; j++) {
          p += f[j] * x[j];
        }
        double r = (p - s.measuredBytes()) / s.measuredBytes();
        error += r * r;
      }
      if (error < bestError) {
        bestError = error;
        best = x;
      }
    }
    return new MemoryCoefficients(best[0], best[1], best[2], best[3], Math.round(best[4]));
  }

  /** Weighted least squares over the coefficients in {@code mask}; null if singular or negative. */
  private static double[] solve(List<Measured> samples, boolean[] regime, int mask) {
    int[] free = IntStream.range(0, UNKNOWNS).filter(j -> (mask & (1 << j)) != 0).toArray();
    int k = free.length;
    double[][] a = new double[k][k + 1];
    for (int i = 0; i < samples.size(); i++) {
      Measured s = samples.get(i);
      double w = 1.0 / s.measuredBytes();
      double[] f = features(s.row(), regime[i]);
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
