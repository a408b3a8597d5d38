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
 * @param tile its place in the job's tile group, or null when it is in none (then it trains its
 *     update set on its own batches)
 * @param subModel in a job of mode {@code submodels}, the sub-model it trains; else null
 * @param updateMicroBatch with {@code update-micro-batch = auto}: the samples per forward and backward
 *     of its updated layers the plan chose for it (0: the whole batch)
 */
public record Assignment(String device, List<GroupPlan.Slice> updatedSlices, long predictedPeakBytes, TileRole tile,
    SubModelRole subModel, int updateMicroBatch) implements ControlMessage {

  public Assignment {
    updatedSlices = List.copyOf(updatedSlices);
    if (updateMicroBatch < 0) {
      throw new IllegalArgumentException("device " + device + ": update micro-batch " + updateMicroBatch);
    }
  }

  /** An assignment whose updated layers run on the whole batch. */
  public Assignment(String device, List<GroupPlan.Slice> updatedSlices, long predictedPeakBytes, TileRole tile,
      SubModelRole subModel) {
    this(device, updatedSlices, predictedPeakBytes, tile, subModel, 0);
  }

  /** The same with its updated layers run {@code samples} at a time, predicted to peak at {@code peakBytes}. */
  public Assignment withUpdateMicroBatch(int samples, long peakBytes) {
    return new Assignment(device, updatedSlices, peakBytes, tile, subModel, samples);
  }

  /** A device outside any tile group. */
  public Assignment(String device, List<GroupPlan.Slice> updatedSlices, long predictedPeakBytes) {
    this(device, updatedSlices, predictedPeakBytes, null, null);
  }

  /** A device of a DSparse plan, in a tile group or not. */
  public Assignment(String device, List<GroupPlan.Slice> updatedSlices, long predictedPeakBytes, TileRole tile) {
    this(device, updatedSlices, predictedPeakBytes, tile, null);
  }

  /**
   * The same assignment in a re-plan whose group ids take {@code prefix}: its tile role names the
   * prefixed group.
   */
  public Assignment prefixed(String prefix) {
    return tile == null ? this : new Assignment(device, updatedSlices, predictedPeakBytes, new TileRole(
        prefix + tile.groupId(), tile.members(), tile.groupEnds(), tile.rows(), tile.columns()), subModel,
        updateMicroBatch);
  }

  /** Indices of the layers it updates, whole or in part, ascending: every one runs forward in training. */
  public List<Integer> updatedLayers() {
    return updatedSlices.stream().map(GroupPlan.Slice::layer).distinct().sorted().toList();
  }
}
