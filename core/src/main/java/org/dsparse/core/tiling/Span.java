package org.dsparse.core.tiling;

/** Rows (or columns) {@code [from, to)} of a feature map. */
public record Span(int from, int to) {
  public Span {
    if (to < from) {
      throw new IllegalArgumentException("span [" + from + ", " + to + ") ends before it begins");
    }
  }

  public int length() {
    return to - from;
  }

  public boolean isEmpty() {
    return to == from;
  }

  /** The part of this span inside {@code [0, size)}. */
  public Span clip(int size) {
    int a = Math.max(0, Math.min(from, size));
    int b = Math.max(a, Math.min(to, size));
    return new Span(a, b);
  }

  public Span intersect(Span other) {
    int a = Math.max(from, other.from);
    return new Span(a, Math.max(a, Math.min(to, other.to)));
  }

  public boolean contains(Span other) {
    return other.isEmpty() || (from <= other.from && other.to <= to);
  }

  /**
   * {@code size} split into {@code parts} consecutive spans whose lengths differ by at most one, the
   * longer ones first.
   */
  public static Span[] split(int size, int parts) {
    if (parts < 1 || parts > size) {
      throw new IllegalArgumentException("cannot split " + size + " rows into " + parts + " tiles");
    }
    Span[] spans = new Span[parts];
    int from = 0;
    for (int p = 0; p < parts; p++) {
      int length = size / parts + (p < size % parts ? 1 : 0);
      spans[p] = new Span(from, from + length);
      from += length;
    }
    return spans;
  }

  @Override
  public String toString() {
    return "[" + from + ", " + to + ")";
  }
}
