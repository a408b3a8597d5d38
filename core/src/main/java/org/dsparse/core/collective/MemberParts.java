package org.dsparse.core.collective;

import java.util.List;

/**
 * A payload of several slices laid out member part by member part: each slice is cut into one piece
 * per member (piece {@code p} of {@code n} floats is {@code [p * n / m, (p + 1) * n / m)}), and
 * member part {@code p} holds piece {@code p} of every slice, in slice order. A ring sums an element
 * in an order set by its member part, so an element is summed the same way whether its slice is
 * reduced with others or alone; and every part holds within one float per slice of an equal share.
 */
public final class MemberParts {
  private MemberParts() {}

  /** Each member part's length for slices of these lengths. */
  public static int[] partLengths(int[] sliceLengths, int members) {
    checkMembers(members);
    int[] parts = new int[members];
    for (int length : sliceLengths) {
      for (int member = 0; member < members; member++) {
        parts[member] += piece(length, members, member + 1) - piece(length, members, member);
      }
    }
    return parts;
  }

  /** The slices laid out member part by member part. */
  public static float[] gather(List<float[]> slices, int members) {
    checkMembers(members);
    float[] payload = new float[slices.stream().mapToInt(s -> s.length).sum()];
    int at = 0;
    for (int member = 0; member < members; member++) {
      for (float[] slice : slices) {
        int from = piece(slice.length, members, member);
        int length = piece(slice.length, members, member + 1) - from;
        System.arraycopy(slice, from, payload, at, length);
        at += length;
      }
    }
    return payload;
  }

  /** The inverse of {@link #gather}: {@code payload}'s floats back into {@code slices}, sized as they were. */
  public static void scatter(float[] payload, List<float[]> slices, int members) {
    checkMembers(members);
    if (payload.length != slices.stream().mapToInt(s -> s.length).sum()) {
      throw new IllegalArgumentException("a payload of " + payload.length + " floats for slices of "
          + slices.stream().mapToInt(s -> s.length).sum());
    }
    int at = 0;
    for (int member = 0; member < members; member++) {
      for (float[] slice : slices) {
        int from = piece(slice.length, members, member);
        int length = piece(slice.length, members, member + 1) - from;
        System.arraycopy(payload, at, slice, from, length);
        at += length;
      }
    }
  }

  private static int piece(int length, int members, int index) {
    return (int) ((long) index * length / members);
  }

  private static void checkMembers(int members) {
    if (members < 1) {
      throw new IllegalArgumentException("members must be positive, got " + members);
    }
  }
}
