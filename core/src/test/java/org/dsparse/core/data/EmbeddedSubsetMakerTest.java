package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EmbeddedSubsetMakerTest {

  @Test
  void sampleIsClassBalancedAndWithoutRepeats() {
    int[] labels = TestImages.random(2000, 1, 1, 1, 10, 9).labels();
    int[] chosen = EmbeddedSubsetMaker.balancedSample(labels, 10, 30, 4);
    assertEquals(300, Arrays.stream(chosen).distinct().count());
    int[] perClass = new int[10];
    for (int index : chosen) {
      perClass[labels[index]]++;
    }
    int[] thirty = new int[10];
    Arrays.fill(thirty, 30);
    assertArrayEquals(thirty, perClass);
    assertArrayEquals(chosen, EmbeddedSubsetMaker.balancedSample(labels, 10, 30, 4));
  }
}
