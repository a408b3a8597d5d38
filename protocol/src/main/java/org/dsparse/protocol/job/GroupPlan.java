package org.dsparse.protocol.job;

import java.util.List;
import java.util.Objects;
import org.dsparse.protocol.control.ControlMessage;

/**
 * One process group of the plan: the layers, or channel slices of layers, a set of devices updates
 * together.
 *
 * @param groupId unique within the job
 * @param slices its slices in model order; aggregated fused in one buffer
 * @param updaters devices that update the slices, in rank order; two or more AllReduce each step
 * @param owner the updater that sends the slices' weights to the other devices at each refresh
 *     (the shard's home when sharding placed it on an updater)
 * @param weightBytes the slices' weights and buffers: a refresh's payload and the shard's memory
 * @param shardId the group's LayerShard entity, unique across jobs
 * @param shardHome the device whose node hosts the shard: it keeps the shard current from its own
 *     copy of the weights, so that no refresh crosses the network twice; the owner until sharding
 *     has placed the shard
 */
public record GroupPlan(String groupId, List<Slice> slices, List<String> updaters, String owner,
    long weightBytes, String shardId, String shardHome) implements ControlMessage {

  /**
   * Output channels {@code [from, to)} of layer {@code layer}; the whole layer when they are all its
   * channels. Every tensor of the layer contributes the same proportional share of its rows.
   */
  public record Slice(int layer, int from, int to) {
    public Slice {
      if (layer < 0 || from < 0 || to <= from) {
        throw new IllegalArgumentException("slice of layer " + layer + ": [" + from + ", " + to
            + ") is not a non-empty channel range");
      }
    }

    /** All {@code channels} output channels of the layer. */
    public static Slice whole(int layer, int channels) {
      return new Slice(layer, 0, channels);
    }

    @Override
    public String toString() {
      return layer + "[" + from + ", " + to + ")";
    }
  }

  /** A group whose shard is not placed yet: its owner keeps it. */
  public GroupPlan(String groupId, List<Slice> slices, List<String> updaters, String owner, long weightBytes,
      String shardId) {
    this(groupId, slices, updaters, owner, weightBytes, shardId, owner);
  }

  public GroupPlan {
    Objects.requireNonNull(groupId, "groupId");
    Objects.requireNonNull(shardHome, "shardHome");
    slices = List.copyOf(slices);
    updaters = List.copyOf(updaters);
    if (slices.isEmpty()) {
      throw new IllegalArgumentException("group " + groupId + " has no slices");
    }
  }

  /** The same group led by another of its updaters. */
  public GroupPlan withOwner(String device) {
    if (!updaters.contains(device)) {
      throw new IllegalArgumentException("group " + groupId + ": " + device + " is not one of its updaters "
          + updaters);
    }
    return new GroupPlan(groupId, slices, updaters, device, weightBytes, shardId, device);
  }

  /**
   * The same group with its shard on {@code device}; an updater there also leads the refresh, so
   * that the weights it stores never cross the network.
   */
  public GroupPlan withShardHome(String device) {
    return updaters.contains(device) ? withOwner(device)
        : new GroupPlan(groupId, slices, updaters, owner, weightBytes, shardId, device);
  }

  /** Indices of the layers the group's slices are taken from, ascending. */
  public List<Integer> layers() {
    return slices.stream().map(Slice::layer).distinct().sorted().toList();
  }

  public boolean isAllReduce() {
    return updaters.size() >= 2;
  }
}
