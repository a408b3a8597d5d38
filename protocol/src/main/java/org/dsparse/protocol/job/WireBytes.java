package org.dsparse.protocol.job;

import java.util.Objects;
import org.dsparse.protocol.control.ControlMessage;

/**
 * Bytes a device sent and received on the network during one step (or summed over steps), for one
 * process group and kind, as its transports counted them (see {@code WireTraffic}).
 *
 * @param group the plan's group id; empty for traffic that belongs to no group (control, shards)
 * @param kind {@link #ALL_REDUCE}, {@link #BROADCAST}, {@link #REFRESH}, {@link #TILES}, {@link #SHARD} or {@link #CONTROL}
 */
public record WireBytes(String group, String kind, long sent, long received) implements ControlMessage {
  /** A group's gradients (or, with periodic averaging, weights) averaged among its updaters. */
  public static final String ALL_REDUCE = "allreduce";
  /** The weights of a group with one updater, sent from it to every other device. */
  public static final String BROADCAST = "broadcast";
  /** The weights of a group of several updaters, sent from its owner to the devices outside it. */
  public static final String REFRESH = "refresh";
  /** A tile group's halos, BatchNorm statistics, gathered output and its gradient. */
  public static final String TILES = "tiles";
  /** Weights stored to, or fetched from, a layer shard on another device. */
  public static final String SHARD = "shard";
  /** Every other dsparse message: step commands and reports, collective start, credits, link set-up. */
  public static final String CONTROL = "control";

  public WireBytes {
    Objects.requireNonNull(group, "group");
    Objects.requireNonNull(kind, "kind");
  }

  public long total() {
    return sent + received;
  }

  public WireBytes plus(WireBytes other) {
    return new WireBytes(group, kind, sent + other.sent, received + other.received);
  }
}
