package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ChainBroadcastScheduleTest {

  @ParameterizedTest(name = "{0} members, owner {1}, {2} floats, chunks of {3}")
  @CsvSource({"1,0,5,2", "2,1,1,4", "3,0,7,2", "3,2,10,3", "7,4,50,3", "7,6,100003,997"})
  void deliversTheOwnersBufferBitForBit(int members, int owner, int length, int chunkFloats) {
    Random random = new Random(length);
    float[][] buffers = new float[members][length];
    for (int i = 0; i < length; i++) {
      buffers[owner][i] = Float.intBitsToFloat(random.nextInt());
    }
    float[] expected = buffers[owner].clone();
    ScheduleSimulation.run(members, r -> new ChainBroadcastSchedule(members, r, owner, length, chunkFloats),
        buffers, ReduceOp.SUM);
    for (int r = 0; r < members; r++) {
      assertArrayEquals(floatBits(expected), floatBits(buffers[r]), "rank " + r);
    }
  }

  @Test
  void theChainEndsJustBeforeTheOwner() {
    var last = new ChainBroadcastSchedule(5, 1, 2, 10, 4);
    assertEquals(0, last.sendCount());
    assertEquals(0, last.predecessor().orElseThrow());
    var owner = new ChainBroadcastSchedule(5, 2, 2, 10, 4);
    assertEquals(0, owner.receiveCount());
    assertEquals(3, owner.successor().orElseThrow());
  }

  private static int[] floatBits(float[] values) {
    int[] bits = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      bits[i] = Float.floatToRawIntBits(values[i]);
    }
    return bits;
  }
}
