package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class OverlapCutsTest {
  @Test
  void equalLayersAreCutIntoEqualSegments() {
    assertEquals(List.of(2, 4, 6), OverlapCuts.equalBytes(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, 4));
  }

  @Test
  void aHeavyLastLayerIsASegmentOfItsOwn() {
    // 100 of 106 bytes sit in the last layer: the other two segments share the rest equally.
    assertEquals(List.of(3, 5), OverlapCuts.equalBytes(new long[] {1, 1, 1, 1, 2, 100}, 3));
  }

  @Test
  void layersWithoutBytesNeverStartASegmentAndOneSegmentMeansNoCut() {
    assertEquals(List.of(3), OverlapCuts.equalBytes(new long[] {0, 0, 5, 5, 0}, 4));
    assertEquals(List.of(), OverlapCuts.equalBytes(new long[] {3, 3, 3}, 1));
    assertEquals(List.of(), OverlapCuts.equalBytes(new long[] {0, 0, 7}, 4));
    assertThrows(IllegalArgumentException.class, () -> OverlapCuts.equalBytes(new long[] {1}, 0));
  }
}
