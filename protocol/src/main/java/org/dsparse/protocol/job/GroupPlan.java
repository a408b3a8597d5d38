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
 *     (the LayerShard's home when sharding placed it)
 */
public record GroupPlan(String groupId, List<Integer> layers, List<String> updaters, String owner)
    implements ControlMessage {

  public boolean isAllReduce() {
    return updaters.size() >= 2;
  }
}
