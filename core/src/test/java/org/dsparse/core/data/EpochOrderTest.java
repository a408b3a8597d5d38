package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class EpochOrderTest {

  @Test
  void isAPermutationFixedBySeedAndEpoch() {
    int[] order = EpochOrder.permutation(1000, 5, 3);
    assertArrayEquals(IntStream.range(0, 1000).toArray(), Arrays.stream(order).sorted().toArray());
    assertArrayEquals(order, EpochOrder.permutation(1000, 5, 3));
    assertFalse(Arrays.equals(order, EpochOrder.permutation(1000, 5, 4)), "epochs differ");
    assertFalse(Arrays.equals(order, EpochOrder.permutation(1000, 6, 3)), "seeds differ");
    assertFalse(Arrays.equals(order, IntStream.range(0, 1000).toArray()), "shuffled");
  }
}
