package org.dsparse.core.collective;

import java.util.ArrayList;
import java.util.List;

/**
 * Where to cut a backward pass so that its gradients can be AllReduced segment by segment while the
 * backward goes on below, at layer boundaries: segments of about equal AllReduce bytes
 * ({@link #equalBytes}), or the cuts that finish the last transfer soonest under a model of the
 * backward's and the link's times ({@link #fastest}, DynaComm's decomposition). The same inputs give
 * every device the same cuts, so the members of a group AllReduce the same segments in the same
 * order.
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

  /**
   * The cuts after which the last segment's AllReduce ends soonest, and when: DynaComm's dynamic
   * decomposition. Going down from the last layer, the backward finishes layer after layer; a
   * segment's transfer starts when its lowest layer's gradients are final and the previous
   * segment's transfer has ended, and takes {@code latencySeconds} plus its bytes over
   * {@code bytesPerSecond}. More segments start sending sooner but pay the latency more often.
   * Exact (dynamic programming over the layers, quadratic in their number); layers without bytes
   * never start a segment.
   *
   * @param backwardSeconds each layer's backward time (with its gradients' export)
   * @param bytesPerLayer each layer's AllReduce payload
   * @param maxSegments at most this many segments
   */
  public static Schedule fastest(double[] backwardSeconds, long[] bytesPerLayer, double bytesPerSecond,
      double latencySeconds, int maxSegments) {
    int layers = bytesPerLayer.length;
    if (backwardSeconds.length != layers) {
      throw new IllegalArgumentException(backwardSeconds.length + " backward times for " + layers + " layers");
    }
    if (!(bytesPerSecond > 0) || latencySeconds < 0 || maxSegments < 1) {
      throw new IllegalArgumentException("rate " + bytesPerSecond + " B/s, latency " + latencySeconds
          + " s and " + maxSegments + " segments: the rate and segments must be positive, the latency not negative");
    }
    // Position i = the top i layers, in backward order (layer layers-1 first).
    double[] backwardDone = new double[layers + 1];
    long[] bytesAbove = new long[layers + 1];
    for (int i = 1; i <= layers; i++) {
      int layer = layers - i;
      backwardDone[i] = backwardDone[i - 1] + backwardSeconds[layer];
      bytesAbove[i] = bytesAbove[i - 1] + bytesPerLayer[layer];
    }
    // finish[k][i]: soonest end of the transfers of the top i layers in k segments; from[k][i]: the
    // position where the last of them starts.
    double[][] finish = new double[maxSegments + 1][layers + 1];
    int[][] from = new int[maxSegments + 1][layers + 1];
    for (double[] row : finish) {
      java.util.Arrays.fill(row, Double.POSITIVE_INFINITY);
    }
    finish[0][0] = 0;
    for (int k = 1; k <= maxSegments; k++) {
      for (int i = 1; i <= layers; i++) {
        int layer = layers - i;
        // A segment ends (downwards) at a layer with bytes, or at the bottom.
        if (bytesPerLayer[layer] == 0 && i < layers) {
          continue;
        }
        for (int j = 0; j < i; j++) {
          if (finish[k - 1][j] == Double.POSITIVE_INFINITY || (j > 0 && !endsSegment(bytesPerLayer, layers, j))) {
            continue;
          }
          double start = Math.max(backwardDone[i], finish[k - 1][j]);
          double end = start + latencySeconds + (bytesAbove[i] - bytesAbove[j]) / bytesPerSecond;
          if (end < finish[k][i]) {
            finish[k][i] = end;
            from[k][i] = j;
          }
        }
      }
    }
    int bestK = 1;
    for (int k = 1; k <= maxSegments; k++) {
      if (finish[k][layers] < finish[bestK][layers]) {
        bestK = k;
      }
    }
    List<Integer> cuts = new ArrayList<>();
    int i = layers;
    for (int k = bestK; k > 1; k--) {
      i = from[k][i];
      cuts.add(layers - i); // walking up from the bottom: ascending layer indices
    }
    return new Schedule(List.copyOf(cuts), finish[bestK][layers], backwardDone[layers]);
  }

  /**
   * When the last segment's AllReduce ends under the model of {@link #fastest}, for the given cuts:
   * what a schedule costs on one device. Segments without bytes send nothing.
   */
  public static double lastTransferEnds(double[] backwardSeconds, long[] bytesPerLayer, double bytesPerSecond,
      double latencySeconds, List<Integer> cuts) {
    int layers = bytesPerLayer.length;
    double backwardDone = 0;
    double linkFree = 0;
    long segmentBytes = 0;
    int nextCut = cuts.size() - 1;
    for (int layer = layers - 1; layer >= 0; layer--) {
      backwardDone += backwardSeconds[layer];
      segmentBytes += bytesPerLayer[layer];
      boolean segmentEnds = layer == 0 || (nextCut >= 0 && cuts.get(nextCut) == layer);
      if (segmentEnds) {
        if (segmentBytes > 0) {
          linkFree = Math.max(backwardDone, linkFree) + latencySeconds + segmentBytes / bytesPerSecond;
        }
        segmentBytes = 0;
        while (nextCut >= 0 && cuts.get(nextCut) >= layer) {
          nextCut--;
        }
      }
    }
    return Math.max(linkFree, backwardDone);
  }

  /**
   * Cuts before every layer but the first, for timing each layer's backward; evenly spread cuts when
   * a model has more layers than {@code maxSegments}.
   */
  public static List<Integer> everyLayer(int layers, int maxSegments) {
    int segments = Math.min(layers, maxSegments);
    List<Integer> cuts = new ArrayList<>();
    for (int s = 1; s < segments; s++) {
      cuts.add((int) Math.round((double) s * layers / segments));
    }
    return List.copyOf(cuts);
  }

  /** Whether the top {@code position} layers may form whole segments: the lowest of them has bytes. */
  private static boolean endsSegment(long[] bytesPerLayer, int layers, int position) {
    return bytesPerLayer[layers - position] > 0;
  }

  /**
   * Cuts and what the model predicts of them.
   *
   * @param cuts ascending layer indices where the backward is cut
   * @param lastTransferEndsSeconds when the last segment's AllReduce ends, from the backward's start
   * @param backwardSeconds the whole backward
   */
  public record Schedule(List<Integer> cuts, double lastTransferEndsSeconds, double backwardSeconds) {}
}
