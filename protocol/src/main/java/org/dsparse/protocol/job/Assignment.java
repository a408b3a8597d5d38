package org.dsparse.protocol.job;

import java.util.List;
import org.dsparse.protocol.control.ControlMessage;

/**
 * One device's part of the plan.
 *
 * @param device its name
 * @param updatedSlices the channel slices it updates, in model order: the slices of every group it
 *     is an updater of
 * @param predictedPeakBytes the memory model's prediction for this update set
 */
public record Assignment(String device, List<GroupPlan.Slice> updatedSlices, long predictedPeakBytes)
    implements ControlMessage {

  public Assignment {
    updatedSlices = List.copyOf(updatedSlices);
  }

  /** Indices of the layers it updates, whole or in part, ascending: every one runs forward in training. */
  public List<Integer> updatedLayers() {
    return updatedSlices.stream().map(GroupPlan.Slice::layer).distinct().sorted().toList();
  }
}
