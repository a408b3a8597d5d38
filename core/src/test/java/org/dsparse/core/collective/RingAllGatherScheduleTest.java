package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RingAllGatherScheduleTest {
  @ParameterizedTest
  @CsvSource({"2, 10, 3", "3, 7, 2", "5, 1, 4", "7, 100, 16", "3, 0, 4"})
  void everyRankEndsWithEveryRanksPartUnchanged(int members, int partLength, int chunkFloats) {
    int[] parts = new int[members];
    java.util.Arrays.fill(parts, partLength);
    ChunkLayout layout = ChunkLayout.ofParts(parts, chunkFloats);
    float[] expected = new float[members * partLength];
    float[][] buffers = new float[members][members * partLength];
    for (int r = 0; r < members; r++) {
      for (int i = 0; i < partLength; i++) {
        // Bit patterns that must arrive as sent: NaNs and denormals included (indices travel as these).
        float value = Float.intBitsToFloat(r * 0x9E3779B1 + i * 0x85EBCA6B);
        expected[r * partLength + i] = value;
        buffers[r][r * partLength + i] = value;
      }
    }
    float[][] gathered = ScheduleSimulation.run(members, r -> RingAllReduceSchedule.allGather(members, r, layout), buffers,
        null);
    for (int r = 0; r < members; r++) {
      for (int i = 0; i < expected.length; i++) {
        assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(gathered[r][i]),
            "rank " + r + " element " + i);
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"2", "3", "7"})
  void everyRankSendsAllButItsOwnShareOnceHalfAnAllReduce(int members) {
    int[] parts = new int[members];
    java.util.Arrays.fill(parts, 1000);
    ChunkLayout layout = ChunkLayout.ofParts(parts, 64);
    RingAllReduceSchedule gather = RingAllReduceSchedule.allGather(members, 0, layout);
    RingAllReduceSchedule reduce = new RingAllReduceSchedule(members, 0, layout);
    long gatherFloats = 0;
    for (int t = 0; t < gather.steps(); t++) {
      for (int c = 0; c < gather.chunksPerStep(); c++) {
        gatherFloats += gather.sendRegion(new Transfer(t, c)).length();
      }
    }
    assertEquals((members - 1) * 1000L, gatherFloats);
    assertEquals(2 * gather.sendCount(), reduce.sendCount());
  }
}
