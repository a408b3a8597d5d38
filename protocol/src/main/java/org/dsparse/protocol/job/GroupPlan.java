package org.dsparse.protocol.job;

import java.util.List;
import org.dsparse.protocol.control.ControlMessage;

/**
 * One process group of the plan: the layers a set of devices updates together.
 *
 * @param groupId unique within the job
 * @param layers indices of its layers, ascending; aggregated fused in one buffer
 * @param updaters devices that update the layers, in rank order; two or more AllReduce each step
 * @param owner the updater that sends the layers' weights to the other devices at each refresh
 *     and keeps the group's LayerShard current (the shard's home when sharding placed it there)
 * @param weightBytes the layers' weights and buffers: a refresh's payload and the shard's memory
 * @param shardId the group's LayerShard entity, unique across jobs
 */
public record GroupPlan(String groupId, List<Integer> layers, List<String> updaters, String owner,
    long weightBytes, String shardId) implements ControlMessage {

  /** The same group led by another of its updaters. */
  public GroupPlan withOwner(String device) {
    if (!updaters.contains(device)) {
      throw new IllegalArgumentException("group " + groupId + ": " + device + " is not one of its updaters "
          + updaters);
    }
    return new GroupPlan(groupId, layers, updaters, device, weightBytes, shardId);
  }

  public boolean isAllReduce() {
    return updaters.size() >= 2;
  }
}
