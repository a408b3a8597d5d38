package org.dsparse.core.data;

import java.util.Arrays;

/**
 * Per-channel affine map applied after scaling pixels to [0, 1]: {@code (x - mean[c]) / std[c]}.
 * Centering inputs keeps the first layers' gradients well scaled, which matters more here because
 * many devices train only the last layers and rely on the first ones staying stable.
 */
public record Normalization(float[] mean, float[] std) {

  public Normalization {
    if (mean.length == 0 || mean.length != std.length) {
      throw new IllegalArgumentException("normalization needs one mean and one std per channel, got "
          + mean.length + " means and " + std.length + " stds");
    }
    for (int c = 0; c < std.length; c++) {
      if (!(std[c] > 0) || !Float.isFinite(std[c]) || !Float.isFinite(mean[c])) {
        throw new IllegalArgumentException("channel " + c + " has mean " + mean[c] + " and std " + std[c]
            + "; the std must be a positive finite number and the mean finite");
      }
    }
    mean = mean.clone();
    std = std.clone();
  }

  /** Leaves the [0, 1] pixel values as they are. */
  public static Normalization identity(int channels) {
    float[] zeros = new float[channels];
    float[] ones = new float[channels];
    Arrays.fill(ones, 1f);
    return new Normalization(zeros, ones);
  }

  /** The per-channel mean and standard deviation of {@code set}'s pixels scaled to [0, 1]. */
  public static Normalization measure(ImageSet set) {
    int planeBytes = set.height() * set.width();
    long[] sums = new long[set.channels()];
    long[] squareSums = new long[set.channels()];
    byte[] pixels = set.pixels();
    for (int image = 0; image < set.size(); image++) {
      for (int c = 0; c < set.channels(); c++) {
        int start = (image * set.channels() + c) * planeBytes;
        for (int p = start; p < start + planeBytes; p++) {
          int value = pixels[p] & 0xff;
          sums[c] += value;
          squareSums[c] += value * value;
        }
      }
    }
    double count = (double) set.size() * planeBytes;
    float[] mean = new float[set.channels()];
    float[] std = new float[set.channels()];
    for (int c = 0; c < set.channels(); c++) {
      double m = sums[c] / count;
      double variance = Math.max(0, squareSums[c] / count - m * m);
      mean[c] = (float) (m / 255.0);
      std[c] = (float) Math.max(Math.sqrt(variance) / 255.0, 1e-6);
    }
    return new Normalization(mean, std);
  }

  public int channels() {
    return mean.length;
  }

  /**
   * The normalized value of every possible byte on every channel ({@code [channel][byte]}), so
   * turning an image into floats is a table look-up per pixel.
   */
  public float[][] lookupTable() {
    float[][] table = new float[mean.length][256];
    for (int c = 0; c < mean.length; c++) {
      for (int b = 0; b < 256; b++) {
        table[c][b] = (b / 255f - mean[c]) / std[c];
      }
    }
    return table;
  }

  @Override
  public float[] mean() {
    return mean.clone();
  }

  @Override
  public float[] std() {
    return std.clone();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Normalization that && Arrays.equals(mean, that.mean) && Arrays.equals(std, that.std);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
  }

  @Override
  public String toString() {
    return "Normalization[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
  }
}
