package org.dsparse.core.plan;

import java.util.Objects;
import java.util.function.Consumer;
import org.dsparse.core.compression.Compression;
import org.dsparse.core.memory.OptimizerKind;

/**
 * Knobs of the planner.
 *
 * @param strategy which planner to run
 * @param batch samples per step on each device, which scales activation memory
 * @param optimizer the optimizer, whose state is part of an update's memory
 * @param averagingInterval steps between a group's AllReduces: 1 when gradients are averaged every
 *     step; N when groups average weights every N steps, which divides their cost by N
 * @param refreshInterval steps between weight refreshes of devices that do not update a layer; 0
 *     never refreshes them
 * @param communication the network's latency and bandwidth
 * @param communicationWeight what the communication-aware strategy trades: a plan's score is its
 *     quality (importance-weighted square root of each layer's data share, 1 for data-parallel; the
 *     root because a gradient's signal-to-noise ratio grows with the square root of the samples it
 *     averages) minus this weight times its aggregation time relative to data-parallel. At 0.75,
 *     cutting aggregation to nothing is worth three quarters of data-parallel's gradient signal;
 *     0 plans for memory alone.
 * @param memoryWeight what the communication-aware strategy pays for memory: the score also loses
 *     this weight times the devices' mean predicted peak relative to the full update's, so a device
 *     leaves budget unused when filling it buys little; 0 fills budgets with whatever scores
 * @param channelSplits whether layers may be split by output channel between process groups
 * @param minChannelFraction the smallest share of a layer's output channels a slice may hold
 * @param sharedTailLayers the shared-tail strategy's tail length; 0 lets the score choose it
 * @param compression how groups compress their gradients, which sets what their aggregation costs
 * @param refreshShare a refresh's bytes over the dense weights', on average over the refreshes
 *     (1: every refresh exact; below with compressed refreshes, see {@code RefreshCodec})
 */
public record PlannerSettings(
    PlanStrategy strategy,
    int batch,
    OptimizerKind optimizer,
    int averagingInterval,
    int refreshInterval,
    CommunicationModel communication,
    double communicationWeight,
    double memoryWeight,
    boolean channelSplits,
    double minChannelFraction,
    int sharedTailLayers,
    Compression compression,
    double refreshShare) {

  public static final int DEFAULT_REFRESH_INTERVAL = 10;
  public static final double DEFAULT_COMMUNICATION_WEIGHT = 0.75;
  public static final double DEFAULT_MIN_CHANNEL_FRACTION = 0.125;

  public PlannerSettings {
    Objects.requireNonNull(strategy, "strategy");
    Objects.requireNonNull(optimizer, "optimizer");
    Objects.requireNonNull(communication, "communication");
    Objects.requireNonNull(compression, "compression");
    if (batch <= 0) {
      throw new IllegalArgumentException("planner batch size must be positive, got " + batch);
    }
    if (averagingInterval <= 0) {
      throw new IllegalArgumentException("averaging interval must be a positive number of steps, got "
          + averagingInterval);
    }
    if (refreshInterval < 0) {
      throw new IllegalArgumentException(
          "refresh interval must be 0 (never) or a positive number of steps, got " + refreshInterval);
    }
    if (!(communicationWeight >= 0) || Double.isInfinite(communicationWeight)) {
      throw new IllegalArgumentException(
          "communication weight must be a non-negative number, got " + communicationWeight);
    }
    if (!(memoryWeight >= 0) || Double.isInfinite(memoryWeight)) {
      throw new IllegalArgumentException("memory weight must be a non-negative number, got " + memoryWeight);
    }
    if (sharedTailLayers < 0) {
      throw new IllegalArgumentException("shared tail length must be 0 (chosen by score) or a number of layers, got "
          + sharedTailLayers);
    }
    if (!(refreshShare > 0 && refreshShare <= 1)) {
      throw new IllegalArgumentException("a refresh's share of the dense bytes must be in (0, 1], got " + refreshShare);
    }
    if (!(minChannelFraction > 0 && minChannelFraction <= 1)) {
      throw new IllegalArgumentException(
          "minimum channel fraction must be in (0, 1], got " + minChannelFraction);
    }
  }

  /** Settings without gradient compression. */
  public PlannerSettings(PlanStrategy strategy, int batch, OptimizerKind optimizer, int averagingInterval,
      int refreshInterval, CommunicationModel communication, double communicationWeight, double memoryWeight,
      boolean channelSplits, double minChannelFraction, int sharedTailLayers) {
    this(strategy, batch, optimizer, averagingInterval, refreshInterval, communication, communicationWeight,
        memoryWeight, channelSplits, minChannelFraction, sharedTailLayers, Compression.NONE, 1);
  }

  /** The same knobs with groups compressing their gradients. */
  public PlannerSettings withCompression(Compression other) {
    return with(b -> b.compression = other);
  }

  /** The same knobs with refreshes sending {@code share} of the dense weights' bytes on average. */
  public PlannerSettings withRefreshShare(double share) {
    return with(b -> b.refreshShare = share);
  }

  /** A group's aggregation of {@code bytes} among {@code members}, compressed when the settings compress. */
  double aggregationSeconds(int members, long bytes) {
    return averagingInterval > 1 ? communication.allReduceSeconds(members, bytes)
        : communication.gradientAggregationSeconds(members, bytes, compression);
  }

  /** The communication-aware planner with default knobs. */
  public static PlannerSettings defaults(int batch, OptimizerKind optimizer) {
    return new PlannerSettings(PlanStrategy.COMMUNICATION_AWARE, batch, optimizer, 1,
        DEFAULT_REFRESH_INTERVAL, CommunicationModel.EDGE_DEFAULT, DEFAULT_COMMUNICATION_WEIGHT, 0, true,
        DEFAULT_MIN_CHANNEL_FRACTION, 0);
  }

  public PlannerSettings withStrategy(PlanStrategy other) {
    return with(b -> b.strategy = other);
  }

  public PlannerSettings withChannelSplits(boolean on) {
    return with(b -> b.channelSplits = on);
  }

  public PlannerSettings withCommunicationWeight(double weight) {
    return with(b -> b.communicationWeight = weight);
  }

  public PlannerSettings withSharedTailLayers(int layers) {
    return with(b -> b.sharedTailLayers = layers);
  }

  public PlannerSettings withMemoryWeight(double weight) {
    return with(b -> b.memoryWeight = weight);
  }

  /** These knobs with what {@code change} sets on a copy of their components changed. */
  private PlannerSettings with(Consumer<Builder> change) {
    Builder builder = new Builder(this);
    change.accept(builder);
    return builder.build();
  }

  /**
   * The knobs, copied so that each {@code with*} method names only what it changes: the canonical
   * constructor is spelt out once, here, and not again in every such method.
   */
  private static final class Builder {
    PlanStrategy strategy;
    int batch;
    OptimizerKind optimizer;
    int averagingInterval;
    int refreshInterval;
    CommunicationModel communication;
    double communicationWeight;
    double memoryWeight;
    boolean channelSplits;
    double minChannelFraction;
    int sharedTailLayers;
    Compression compression;
    double refreshShare;

    Builder(PlannerSettings settings) {
      strategy = settings.strategy;
      batch = settings.batch;
      optimizer = settings.optimizer;
      averagingInterval = settings.averagingInterval;
      refreshInterval = settings.refreshInterval;
      communication = settings.communication;
      communicationWeight = settings.communicationWeight;
      memoryWeight = settings.memoryWeight;
      channelSplits = settings.channelSplits;
      minChannelFraction = settings.minChannelFraction;
      sharedTailLayers = settings.sharedTailLayers;
      compression = settings.compression;
      refreshShare = settings.refreshShare;
    }

    PlannerSettings build() {
      return new PlannerSettings(strategy, batch, optimizer, averagingInterval, refreshInterval, communication,
          communicationWeight, memoryWeight, channelSplits, minChannelFraction, sharedTailLayers, compression,
          refreshShare);
    }
  }
}
