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
  void givenPartLengthsAreKeptAndTiledIntoChunks() {
    int[] lengths = {0, 120, 7, 0, 33};
    ChunkLayout layout = ChunkLayout.ofParts(lengths, 50);
    assertEquals(160, layout.length());
    assertEquals(5, layout.parts());
    assertEquals(3, layout.chunksPerPart(), "the longest part, 120 floats, needs three chunks of at most 50");
    int next = 0;
    for (int p = 0; p < lengths.length; p++) {
      assertEquals(next, layout.partOffset(p));
      assertEquals(lengths[p], layout.partLength(p));
      for (int c = 0; c < layout.chunksPerPart(); c++) {
        assertEquals(next, layout.chunkOffset(p, c));
        assertTrue(layout.chunkLength(p, c) <= 50);
        next += layout.chunkLength(p, c);
      }
    }
    assertEquals(160, next);
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.ofParts(new int[] {3, -1}, 50));
    assertThrows(IllegalArgumentException.class, () -> ChunkLayout.ofParts(new int[0], 50));
  }
}
