package org.dsparse.core.collective;

import java.util.ArrayList;
import java.util.List;

/**
 * Where to cut a backward pass so that its gradients can be AllReduced segment by segment while the
 * backward goes on below: at layer boundaries, the segments carrying about equal AllReduce bytes.
 * The same inputs give every device the same cuts, so the members of a group AllReduce the same
 * segments in the same order.
 */
public final class OverlapCuts {
  private OverlapCuts() {}

  /**
   * Ascending layer indices at which to cut a model of {@code bytesPerLayer.length} layers into at
   * most {@code segments} segments of about equal bytes, counted from the last layer (whose
   * gradients are final first). Layers without bytes never start a segment; fewer cuts come out
   * when there are fewer layers with bytes than segments.
   *
   * @param bytesPerLayer each layer's AllReduce payload, summed over the groups
   */
  public static List<Integer> equalBytes(long[] bytesPerLayer, int segments) {
    if (segments < 1) {
      throw new IllegalArgumentException("segments must be positive, got " + segments);
    }
    long total = 0;
    int lowest = -1;
    for (int layer = 0; layer < bytesPerLayer.length; layer++) {
      if (bytesPerLayer[layer] < 0) {
        throw new IllegalArgumentException("layer " + layer + " has negative bytes " + bytesPerLayer[layer]);
      }
      total += bytesPerLayer[layer];
      if (bytesPerLayer[layer] > 0 && lowest < 0) {
        lowest = layer;
      }
    }
    List<Integer> cuts = new ArrayList<>();
    long remaining = total;
    long current = 0;
    for (int layer = bytesPerLayer.length - 1; layer > lowest && cuts.size() < segments - 1; layer--) {
      current += bytesPerLayer[layer];
      // Cut below this layer once its segment holds an equal share of what the segments left hold.
      if (bytesPerLayer[layer] > 0 && current * (segments - cuts.size()) >= remaining) {
        cuts.add(0, layer);
        remaining -= current;
        current = 0;
      }
    }
    return List.copyOf(cuts);
  }
}
