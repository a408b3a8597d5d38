package org.dsparse.training.model;

/**
 * Output channels {@code [from, to)} of one layer: the part of it one process group aggregates. A
 * slice takes the same proportional share of every tensor of the layer (see {@link Layer#rows}), so a
 * composite layer (an inverted-residual block) splits consistently through all its convolutions.
 *
 * @param layer index in model order
 * @param from first output channel
 * @param to one past the last output channel
 */
public record ChannelSlice(int layer, int from, int to) {
  public ChannelSlice {
    if (layer < 0 || from < 0 || to <= from) {
      throw new IllegalArgumentException("channel slice of layer " + layer + ": [" + from + ", " + to
          + ") is not a non-empty range of a layer");
    }
  }

  public int size() {
    return to - from;
  }

  public boolean overlaps(ChannelSlice other) {
    return layer == other.layer && from < other.to && other.from < to;
  }

  @Override
  public String toString() {
    return "layer " + layer + "[" + from + ", " + to + ")";
  }
}
