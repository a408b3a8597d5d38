package org.dsparse.core.plan;

/** Output channels {@code [from, to)} of one layer. */
public record ChannelRange(int from, int to) {
  public ChannelRange {
    if (from < 0 || to <= from) {
      throw new IllegalArgumentException("empty or negative channel range [" + from + ", " + to + ")");
    }
  }

  public int size() {
    return to - from;
  }

  @Override
  public String toString() {
    return "[" + from + ", " + to + ")";
  }
}
