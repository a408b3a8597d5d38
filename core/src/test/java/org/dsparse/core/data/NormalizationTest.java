package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NormalizationTest {

  @Test
  void measuresEachChannelSeparately() {
    // two 1x2 images with two channels: channel 0 is always 0 and 255, channel 1 always 51
    byte[] pixels = {0, (byte) 255, 51, 51, (byte) 255, 0, 51, 51};
    ImageSet set = new ImageSet(pixels, 2, 2, 1, 2, new int[] {0, 1}, 2);
    Normalization n = Normalization.measure(set);
    assertArrayEquals(new float[] {0.5f, 0.2f}, n.mean(), 1e-6f);
    assertEquals(0.5f, n.std()[0], 1e-6f);
    assertTrue(n.std()[1] > 0, "a constant channel gets a tiny positive std, not a division by zero");
  }

  @Test
  void lookupTableMapsBytesToNormalizedValues() {
    float[][] table = new Normalization(new float[] {0.5f}, new float[] {0.25f}).lookupTable();
    assertEquals(-2f, table[0][0], 1e-6f);
    assertEquals(2f, table[0][255], 1e-6f);
    assertArrayEquals(new float[] {0f, 1f}, new float[] {Normalization.identity(1).lookupTable()[0][0],
        Normalization.identity(1).lookupTable()[0][255]}, 1e-6f);
  }

  @Test
  void rejectsNonPositiveStd() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Normalization(new float[] {0.1f, 0.2f}, new float[] {0.3f, 0f}));
    assertTrue(e.getMessage().contains("channel 1"), e.getMessage());
  }
}
