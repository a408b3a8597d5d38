package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ChunkLayoutTest {

  @ParameterizedTest(name = "{0} floats over {1} parts, chunks <= {2}")
  @CsvSource({"0,3,4", "1,7,4", "7,3,2", "10,3,3", "3500000,7,65536", "65537,1,65536"})
  void chunksTileTheBufferWithoutGapsOrOverlap(int length, int parts, int maxChunk) {
    ChunkLayout layout = ChunkLayout.of(length, parts, maxChunk);
    int next = 0;
    for (int p = 0; p < parts; p++) {
      assertTrue(Math.abs(layout.partLength(p) - length / parts) <= 1, "balanced part " + p);
      for (int c = 0; c < layout.chunksPerPart(); c++) {
        assertEquals(next, layout.chunkOffset(p, c));
        assertTrue(layout.chunkLength(p, c) <= maxChunk);
        next += layout.chunkLength(p, c);
      }
    }
    assertEquals(length, next);
  }

  @Test
  void refusesNonsense() {
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.of(-1, 2, 4));
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.of(4, 0, 4));
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.of(4, 2, 0));
  }

  @Test
  void aWindowPutsEveryElementInThePartItHasInTheWholeVector() {
    int total = 1003;
    ChunkLayout whole = ChunkLayout.of(total, 7, 50);
    int[] cuts = {0, 17, 18, 400, 1003};
    for (int w = 0; w + 1 < cuts.length; w++) {
      int offset = cuts[w];
      int length = cuts[w + 1] - offset;
      ChunkLayout window = ChunkLayout.window(offset, length, total, 7, 50);
      int next = 0;
      for (int p = 0; p < 7; p++) {
        for (int i = 0; i < window.partLength(p); i++) {
          int element = offset + window.partOffset(p) + i;
          assertTrue(element >= whole.partOffset(p) && element < whole.partOffset(p) + whole.partLength(p),
              "element " + element + " of window " + w + " in part " + p);
        }
        for (int c = 0; c < window.chunksPerPart(); c++) {
          assertEquals(next, window.chunkOffset(p, c));
          assertTrue(window.chunkLength(p, c) <= 50);
          next += window.chunkLength(p, c);
        }
      }
      assertEquals(length, next, "window " + w + " tiled");
    }
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.window(1000, 10, total, 7, 50));
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.window(-1, 10, total, 7, 50));
  }
}
