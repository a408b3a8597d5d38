package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class MemberPartsTest {
  private static float[] counting(int n, int start) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = start + i;
    }
    return values;
  }

  /** The member part holding each value of {@code slices}' payload, by value. */
  private static int partOf(float value, float[] payload, int[] partLengths) {
    int at = 0;
    for (int part = 0; part < partLengths.length; part++) {
      for (int i = 0; i < partLengths[part]; i++, at++) {
        if (payload[at] == value) {
          return part;
        }
      }
    }
    throw new AssertionError("value " + value + " not in the payload");
  }

  @Test
  void anElementIsInTheSamePartAloneOrWithOtherSlices() {
    float[] a = counting(10, 0);
    float[] b = counting(7, 100);
    int members = 3;
    float[] alone = MemberParts.gather(List.of(a), members);
    float[] together = MemberParts.gather(List.of(b, a), members);
    int[] aloneParts = MemberParts.partLengths(new int[] {10}, members);
    int[] togetherParts = MemberParts.partLengths(new int[] {7, 10}, members);
    assertArrayEquals(new int[] {3, 3, 4}, aloneParts);
    assertArrayEquals(new int[] {5, 5, 7}, togetherParts, "within one float per slice of an equal share");
    for (float value : a) {
      assertEquals(partOf(value, alone, aloneParts), partOf(value, together, togetherParts), "value " + value);
    }
  }

  @Test
  void scatterUndoesGather() {
    List<float[]> slices = List.of(counting(5, 0), counting(0, 0), counting(11, 50));
    float[] payload = MemberParts.gather(slices, 4);
    List<float[]> back = List.of(new float[5], new float[0], new float[11]);
    MemberParts.scatter(payload, back, 4);
    for (int i = 0; i < slices.size(); i++) {
      assertArrayEquals(slices.get(i), back.get(i));
    }
    assertThrows(IllegalArgumentException.class, () -> MemberParts.scatter(new float[3], back, 4));
    assertThrows(IllegalArgumentException.class, () -> MemberParts.gather(slices, 0));
  }
}
