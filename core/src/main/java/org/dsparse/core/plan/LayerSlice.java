package org.dsparse.core.plan;

/**
 * The part of one layer a process group aggregates: the whole layer, or a range of its output
 * channels when the plan splits the layer between groups.
 *
 * @param layer index in model order
 * @param name the layer's name
 * @param channels the output channels of this slice
 * @param whole true if the slice is the entire layer
 * @param bytes parameters and buffers of the slice, the payload of its collective
 */
public record LayerSlice(int layer, String name, ChannelRange channels, boolean whole, long bytes) {
  @Override
  public String toString() {
    return whole ? name : name + channels;
  }
}
