package org.dsparse.core.data;

import java.util.SplittableRandom;

/** Small random image sets for the data tests. */
final class TestImages {
  private TestImages() {}

  static ImageSet random(int size, int channels, int height, int width, int classes, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] pixels = new byte[size * channels * height * width];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) random.nextInt(256);
    }
    int[] labels = new int[size];
    for (int i = 0; i < size; i++) {
      labels[i] = random.nextInt(classes);
    }
    return new ImageSet(pixels, size, channels, height, width, labels, classes);
  }
}
