package org.dsparse.core.tiling;

/**
 * One spatial operation of a tiled layer (a convolution or pooling and the element-wise layers after
 * it), as the tiling geometry and its cost model see it.
 *
 * @param name for plans and errors, e.g. {@code ir2.dw}
 * @param height the window along the rows
 * @param width the window along the columns
 * @param inChannels channels read
 * @param outChannels channels written
 * @param flopsPerOutput forward floating-point operations per output element (one channel at one
 *     position), e.g. {@code 2 * kernel^2 * inChannels / groups} for a convolution
 * @param storedPerOutput floats kept for the backward per output element (the convolution's output,
 *     BatchNorm's and the activation's: 3 for conv-BN-ReLU)
 * @param weights trained floats
 * @param normalized whether a BatchNorm follows whose batch statistics span every tile (one
 *     exchange of per-channel sums forward and one backward within the tile group)
 */
public record Stage(String name, Window height, Window width, int inChannels, int outChannels,
    double flopsPerOutput, double storedPerOutput, long weights, boolean normalized) {
  public Stage {
    if (inChannels < 1 || outChannels < 1 || flopsPerOutput < 0 || storedPerOutput < 0 || weights < 0) {
      throw new IllegalArgumentException("stage " + name + ": channels must be positive and costs non-negative");
    }
  }
}
