package org.dsparse.core.plan;

import org.dsparse.core.compression.Compression;

/**
 * Predicts how long a collective takes on the cluster's network, so plans can be compared by
 * aggregation time rather than bytes alone: a plan that moves fewer bytes in more collectives pays
 * more latency, which is what made nested suffix groups slower than data-parallel in practice.
 *
 * @param hopLatencySeconds fixed cost of one message between two devices (one step of a ring)
 * @param bytesPerSecond link bandwidth of one device
 */
public record CommunicationModel(double hopLatencySeconds, double bytesPerSecond) {
  /** Edge devices on a shared 100 Mbit/s network with half a millisecond per message. */
  public static final CommunicationModel EDGE_DEFAULT = new CommunicationModel(0.0005, 12.5e6);

  public CommunicationModel {
    if (!(hopLatencySeconds >= 0) || Double.isInfinite(hopLatencySeconds)) {
      throw new IllegalArgumentException("hop latency must be a non-negative number of seconds, got "
          + hopLatencySeconds);
    }
    if (!(bytesPerSecond > 0) || Double.isInfinite(bytesPerSecond)) {
      throw new IllegalArgumentException("bandwidth must be positive bytes/second, got " + bytesPerSecond);
    }
  }

  /**
   * Ring AllReduce: reduce-scatter then all-gather, {@code 2(m-1)} steps each moving {@code 1/m} of
   * the payload. Zero for a single member, which has nothing to reduce.
   */
  public double allReduceSeconds(int members, long bytes) {
    if (members < 2 || bytes == 0) {
      return 0;
    }
    return 2.0 * (members - 1) * (hopLatencySeconds + bytes / (members * bytesPerSecond));
  }

  /**
   * A group's gradient aggregation under {@code compression}: dense, gs-SGD's two ring AllReduces
   * (the sketch, then the recovered values), or Top-k's ring AllGather of every member's pairs
   * ({@code m-1} steps each moving one member's share); {@code bytes} is the dense gradient's size.
   */
  public double gradientAggregationSeconds(int members, long bytes, Compression compression) {
    Compression.Sizes sizes = compression.plan((int) Math.min(Integer.MAX_VALUE, bytes / Float.BYTES), members);
    return switch (sizes.kind()) {
      case NONE -> allReduceSeconds(members, bytes);
      case SKETCH -> allReduceSeconds(members, (long) Float.BYTES * sizes.rows() * sizes.columns())
          + allReduceSeconds(members, (long) Float.BYTES * sizes.k());
      case TOPK -> (members - 1) * (hopLatencySeconds + 2.0 * Float.BYTES * sizes.k() / bytesPerSecond);
    };
  }

  /**
   * Pipelined chain broadcast from one owner: the payload crosses every link once, concurrently,
   * and each receiver adds one hop of latency.
   */
  public double broadcastSeconds(int receivers, long bytes) {
    if (receivers < 1 || bytes == 0) {
      return 0;
    }
    return receivers * hopLatencySeconds + bytes / bytesPerSecond;
  }
}
