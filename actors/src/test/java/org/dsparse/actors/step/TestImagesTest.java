package org.dsparse.actors.step;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.Arrays;
import org.dsparse.core.data.ImageSet;
import org.junit.jupiter.api.Test;

/** {@code dsparse.job.test-images}: a job evaluates on the test split's first N images, or on all of it. */
class TestImagesTest {
  /** Ten 1x2x2 images, image i's pixels all i, its label i % 3. */
  private static ImageSet ten() {
    byte[] pixels = new byte[10 * 4];
    int[] labels = new int[10];
    for (int i = 0; i < 10; i++) {
      Arrays.fill(pixels, i * 4, i * 4 + 4, (byte) i);
      labels[i] = i % 3;
    }
    return new ImageSet(pixels, 10, 1, 2, 2, labels, 3);
  }

  @Test
  void theFirstNImagesInTheirOrder() {
    ImageSet first = DeviceSetUp.testImages(ten(), 4);
    assertEquals(4, first.size());
    assertArrayEquals(new int[] {0, 1, 2, 0}, first.labels());
    assertArrayEquals(new byte[] {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, first.pixels());
  }

  @Test
  void zeroOrMoreThanTheSplitHoldsTakesItWhole() {
    ImageSet all = ten();
    assertSame(all, DeviceSetUp.testImages(all, 0));
    assertSame(all, DeviceSetUp.testImages(all, 10));
    assertSame(all, DeviceSetUp.testImages(all, 11));
  }
}
