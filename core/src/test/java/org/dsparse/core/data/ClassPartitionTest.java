package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClassPartitionTest {
  @Test
  void aClassHeldByNoDeviceIsRefusedNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ClassPartition.of(4, List.of(new int[] {0, 1}, new int[] {1, 3})));
    assertTrue(e.getMessage().contains("class 2 is held by no device"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ClassPartition.of(3, List.of(new int[] {0, 1, 2, 3})));
    assertThrows(IllegalArgumentException.class, () -> ClassPartition.of(3, List.of(new int[] {0, 1, 2}, new int[0])));
  }

  @Test
  void everySampleGoesToOneDeviceHoldingItsClass() {
    int[] labels = new int[1000];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (i * 7) % 5;
    }
    ClassPartition p = ClassPartition.of(5, List.of(new int[] {0, 1}, new int[] {1, 2, 3}, new int[] {3, 4, 0}));
    int[][] shards = p.samples(labels, 9);
    int[] owner = new int[labels.length];
    java.util.Arrays.fill(owner, -1);
    for (int d = 0; d < shards.length; d++) {
      for (int i : shards[d]) {
        assertEquals(-1, owner[i], "sample " + i + " on two devices");
        owner[i] = d;
        assertTrue(p.holds(d, labels[i]), "device " + d + " got class " + labels[i]);
      }
    }
    assertTrue(java.util.Arrays.stream(owner).allMatch(d -> d >= 0), "a sample on no device");
    // Class 1 (200 samples) is split evenly between devices 0 and 1.
    long onFirst = java.util.Arrays.stream(shards[0]).filter(i -> labels[i] == 1).count();
    assertEquals(100, onFirst);
    assertArrayEquals(shards[1], p.samples(labels, 9)[1], "the same seed, the same split");
  }

  @Test
  void aSubModelsImagesAreThoseOfItsClassesLabelledByTheirPlaceAmongThem() {
    byte[] pixels = new byte[6 * 4];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) i;
    }
    ImageSet images = new ImageSet(pixels, 6, 1, 2, 2, new int[] {3, 0, 1, 3, 2, 0}, 4);
    ImageSet kept = images.ofClasses(new int[] {3, 1});
    assertEquals(2, kept.classes());
    assertArrayEquals(new int[] {0, 1, 0}, kept.labels());
    assertArrayEquals(new byte[] {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15}, kept.pixels());
    assertThrows(IllegalArgumentException.class, () -> images.ofClasses(new int[] {1, 1}));
  }

  @Test
  void aLabelSkewGivesEachDeviceItsNumberOfClassesAndCoversEveryClass() {
    for (long seed = 0; seed < 50; seed++) {
      ClassPartition p = ClassPartition.skewed(10, 7, 2, 4, seed);
      assertEquals(7, p.devices());
      for (int[] classes : p.held()) {
        assertTrue(classes.length >= 2 && classes.length <= 4, java.util.Arrays.toString(classes));
      }
      for (int c = 0; c < 10; c++) {
        assertTrue(p.holders(c).length > 0, "seed " + seed + ": class " + c + " uncovered");
      }
    }
    assertThrows(IllegalArgumentException.class, () -> ClassPartition.skewed(10, 2, 2, 4, 1));
  }
}
