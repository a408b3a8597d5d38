package org.dsparse.core.compression;

import java.util.Locale;

/**
 * How a process group compresses its gradients, and what that costs: the settings a job gives
 * ({@code dsparse.job.compression}) and the sizes they imply for a payload of {@code d} floats in a
 * group of {@code P} members.
 *
 * <p>{@code ratio} is the reduction of the gradient bytes each member puts on the wire, against the
 * ring AllReduce of the dense gradient ({@code 2(P-1)/P * d} floats sent per member):
 * <ul>
 *   <li>{@link Kind#SKETCH} (gs-SGD) runs two ring AllReduces, of the {@code rows x columns} sketch
 *       and of the {@code k} recovered coordinates' exact values, so {@code rows * columns + k = d /
 *       ratio}; {@code k} takes {@code valuesShare} of that budget (a quarter by default), the sketch
 *       the rest, unless {@code columns} is set.
 *   <li>{@link Kind#TOPK} runs a ring AllGather of every member's {@code k} (index, value) pairs, each
 *       member sending {@code (P-1) * 2k} floats, so {@code k = d / (P * ratio)}: the price of
 *       local selection, which grows with the group.
 * </ul>
 * A payload smaller than {@code minFloats}, or one for which the settings cannot reach the ratio (a
 * fixed sketch too large, a {@code k} below one), is not compressed; {@link #plan} says why.
 *
 * @param kind none, Top-k or Count-Sketch
 * @param ratio the wire reduction asked for, above 1
 * @param rows the sketch's rows (1 to 15)
 * @param columns the sketch's columns; 0: from the budget
 * @param minFloats payloads below this many floats travel dense
 * @param valuesShare the sketch's share of the budget spent on exact values (the rest on the sketch
 *     itself), when {@code columns} is 0: more values update more coordinates a step, a larger
 *     sketch chooses them better
 */
public record Compression(Kind kind, double ratio, int rows, int columns, int minFloats, double valuesShare) {
  public enum Kind { NONE, TOPK, SKETCH }

  public static final Compression NONE = new Compression(Kind.NONE, 1, 1, 0, 0);

  /** The default share of a sketch's budget spent on exact values. */
  public static final double DEFAULT_VALUES_SHARE = 0.25;

  /** Settings with the default values share. */
  public Compression(Kind kind, double ratio, int rows, int columns, int minFloats) {
    this(kind, ratio, rows, columns, minFloats, DEFAULT_VALUES_SHARE);
  }

  public Compression {
    if (kind == null) {
      throw new IllegalArgumentException("compression kind missing");
    }
    if (kind != Kind.NONE && !(ratio > 1)) {
      throw new IllegalArgumentException("compression ratio must be above 1, got " + ratio);
    }
    if (rows < 1 || rows > 15) {
      throw new IllegalArgumentException("sketch rows must be 1 to 15, got " + rows);
    }
    if (columns < 0 || minFloats < 0) {
      throw new IllegalArgumentException("sketch columns and min-floats must not be negative");
    }
    if (!(valuesShare > 0 && valuesShare < 1)) {
      throw new IllegalArgumentException("the values' share of a sketch's budget must be in (0, 1), got " + valuesShare);
    }
  }

  public boolean enabled() {
    return kind != Kind.NONE;
  }

  /**
   * The same settings for the parts of a group that compresses: {@code minFloats} decides whether a
   * group compresses at all, not whether each overlap segment of it does (a small segment sent dense
   * would give back what the group's compression saves).
   */
  public Compression forParts() {
    return new Compression(kind, ratio, rows, columns, 0, valuesShare);
  }

  /**
   * The floats compressing {@code dimension} gradient floats holds on a member at most, whatever its
   * group: the residual, and the payloads, which the ratio bounds ({@code 2 * dimension / ratio}: Top-k's
   * gathered pairs; a sketch, its values and their indices take less).
   */
  public long stateFloatsAtMost(long dimension) {
    return kind == Kind.NONE ? 0 : dimension + (long) Math.ceil(2 * dimension / ratio);
  }

  /**
   * What a payload of {@code dimension} gradient floats in a group of {@code members} does: its
   * compressor's sizes, or dense with the reason.
   */
  public Sizes plan(int dimension, int members) {
    if (kind == Kind.NONE) {
      return Sizes.dense("compression off");
    }
    if (members < 2) {
      return Sizes.dense("a group of one sends nothing");
    }
    if (dimension < minFloats) {
      return Sizes.dense(String.format(Locale.ROOT, "%d floats, below min-floats %d", dimension, minFloats));
    }
    double budget = dimension / ratio;
    if (kind == Kind.TOPK) {
      int k = (int) Math.floor(budget / members);
      if (k < 1) {
        return Sizes.dense(String.format(Locale.ROOT, "Top-k at ratio %.0f leaves under one coordinate per member of %d"
            + " in %d floats", ratio, members, dimension));
      }
      return new Sizes(kind, k, 0, 0, "");
    }
    int k = columns > 0 ? (int) Math.floor(budget - (double) rows * columns) : (int) Math.floor(budget * valuesShare);
    int cols = columns > 0 ? columns : (int) Math.floor((budget - k) / rows);
    if (k < 1 || cols < 1) {
      return Sizes.dense(String.format(Locale.ROOT, "a %d x %d sketch leaves no room for the values at ratio %.0f"
          + " in %d floats", rows, columns > 0 ? columns : Math.max(cols, 0), ratio, dimension));
    }
    return new Sizes(kind, k, rows, cols, "");
  }

  /**
   * A payload's compressor, or dense ({@code kind} NONE) and why.
   *
   * @param k coordinates sent: per member for Top-k, for the whole group for the sketch
   */
  public record Sizes(Kind kind, int k, int rows, int columns, String denseBecause) {
    static Sizes dense(String why) {
      return new Sizes(Kind.NONE, 0, 0, 0, why);
    }

    public boolean compressed() {
      return kind != Kind.NONE;
    }

    /**
     * Floats each member sends for a gradient of {@code dimension} floats in a group of {@code members}
     * (ring AllReduce and AllGather volumes): what the communication model and the wire counters see.
     */
    public double floatsSentPerMember(int dimension, int members) {
      double ring = 2.0 * (members - 1) / members;
      return switch (kind) {
        case NONE -> ring * dimension;
        case SKETCH -> ring * ((double) rows * columns + k);
        case TOPK -> (members - 1) * 2.0 * k;
      };
    }

    /** Floats the compressor holds on a member: its residual and its sketch or selection. */
    public long stateFloats(int dimension, int members) {
      return switch (kind) {
        case NONE -> 0;
        case SKETCH -> dimension + (long) rows * columns + 2L * k;
        case TOPK -> dimension + 2L * k * members;
      };
    }
  }
}
