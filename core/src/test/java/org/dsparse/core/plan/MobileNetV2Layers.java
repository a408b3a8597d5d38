package org.dsparse.core.plan;

import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryModel;

/**
 * The 20 units of DJL's MobileNetV2 on 1x28x28 inputs with 10 classes: measured parameter counts,
 * activations derived from each unit's shapes (input, expanded, depthwise and output maps).
 */
final class MobileNetV2Layers {
  private MobileNetV2Layers() {}

  private static final long[] PARAMS = {160, 2144, 5568, 9456, 10640, 15680, 15680, 21952, 55936,
      55936, 55936, 68352, 120768, 120768, 157888, 324160, 324160, 478400, 414720, 12810};
  private static final String[] NAMES = {"stem", "ir1", "ir2", "ir3", "ir4", "ir5", "ir6", "ir7",
      "ir8", "ir9", "ir10", "ir11", "ir12", "ir13", "ir14", "ir15", "ir16", "ir17", "conv_last",
      "classifier"};
  // input channels, output channels, expansion, stride of each inverted residual
  private static final int[][] BLOCKS = {{32, 16, 1, 1}, {16, 24, 6, 2}, {24, 24, 6, 1},
      {24, 32, 6, 2}, {32, 32, 6, 1}, {32, 32, 6, 1}, {32, 64, 6, 2}, {64, 64, 6, 1}, {64, 64, 6, 1},
      {64, 64, 6, 1}, {64, 96, 6, 1}, {96, 96, 6, 1}, {96, 96, 6, 1}, {96, 160, 6, 2},
      {160, 160, 6, 1}, {160, 160, 6, 1}, {160, 320, 6, 1}};

  static List<LayerCost> layers() {
    List<LayerCost> layers = new ArrayList<>();
    int side = 14;
    long stemIn = 28 * 28;
    long stemOut = 32L * side * side;
    layers.add(new LayerCost(NAMES[0], PARAMS[0], 0, stemIn + 2 * stemOut, stemOut, stemIn + stemOut, 32));
    for (int b = 0; b < BLOCKS.length; b++) {
      int[] blk = BLOCKS[b];
      int outSide = (side + blk[3] - 1) / blk[3];
      long in = (long) blk[0] * side * side;
      long expanded = (long) blk[0] * blk[2] * side * side;
      long depthwise = (long) blk[0] * blk[2] * outSide * outSide;
      long out = (long) blk[1] * outSide * outSide;
      long kept = in + (blk[2] > 1 ? 2 * expanded : 0) + 2 * depthwise + 2 * out;
      layers.add(new LayerCost(NAMES[b + 1], PARAMS[b + 1], 0, kept, out, in + Math.max(expanded, depthwise), blk[1]));
      side = outSide;
    }
    long last = 1280L * side * side;
    layers.add(new LayerCost(NAMES[18], PARAMS[18], 0, 320L * side * side + 2 * last, last,
        320L * side * side + last, 1280));
    layers.add(new LayerCost(NAMES[19], PARAMS[19], 0, 1280 + 10, 10, 1290, 10));
    return layers;
  }

  static MemoryModel model() {
    return new MemoryModel(layers(), MemoryCoefficients.NOMINAL);
  }
}
