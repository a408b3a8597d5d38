package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class RingAllReduceScheduleTest {

  @ParameterizedTest(name = "{0} members, {1} floats, chunks of {2}")
  @CsvSource({"1,5,4", "2,1,4", "2,7,4", "3,1,4", "3,7,2", "3,10,3", "7,1,4", "7,7,1", "7,50,3", "4,1000,16", "5,100003,997"})
  void sumsAndMeansEveryRankExactlyOnIntegerValues(int members, int length, int chunkFloats) {
    Random random = new Random(members * 31L + length);
    float[][] inputs = new float[members][length];
    float[] sum = new float[length];
    for (int r = 0; r < members; r++) {
      for (int i = 0; i < length; i++) {
        inputs[r][i] = random.nextInt(2001) - 1000;
        sum[i] += inputs[r][i];
      }
    }
    float[] mean = new float[length];
    for (int i = 0; i < length; i++) {
      mean[i] = sum[i] / members;
    }
    float[][] summed = ScheduleSimulation.run(members,
        r -> new RingAllReduceSchedule(members, r, length, chunkFloats), copy(inputs), ReduceOp.SUM);
    float[][] averaged = ScheduleSimulation.run(members,
        r -> new RingAllReduceSchedule(members, r, length, chunkFloats), copy(inputs), ReduceOp.MEAN);
    for (int r = 0; r < members; r++) {
      assertArrayEquals(sum, summed[r], "sum on rank " + r);
      assertArrayEquals(mean, averaged[r], "mean on rank " + r);
    }
  }

  @Test
  void everyMemberSendsTwiceItsShareOfTheBuffer() {
    int members = 4;
    int length = 1000;
    var schedule = new RingAllReduceSchedule(members, 1, length, 64);
    int floatsSent = 0;
    for (int t = 0; t < schedule.steps(); t++) {
      for (int c = 0; c < schedule.chunksPerStep(); c++) {
        floatsSent += schedule.sendRegion(new Transfer(t, c)).length();
      }
    }
    assertEquals(2 * (members - 1) * length / members, floatsSent);
  }

  @Test
  void rejectsARankOutsideTheGroup() {
    assertThrows(IllegalArgumentException.class, () -> new RingAllReduceSchedule(3, 3, 10, 4));
  }

  private static float[][] copy(float[][] source) {
    float[][] copy = new float[source.length][];
    for (int i = 0; i < source.length; i++) {
      copy[i] = source[i].clone();
    }
    return copy;
  }
}
