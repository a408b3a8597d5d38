package org.dsparse.actors.device;

import java.util.List;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.training.model.Checkpoint;

/**
 * A device's state after {@code step} steps of job {@code jobId}, a step every device completed and
 * that refreshed every layer: the whole model as every device then holds it, and the optimizer state
 * of the slices this device updated. A job that loses a device rolls back to it; a device without it
 * fetches the model from one that has it. Never modified once taken.
 *
 * @param epoch the epoch the state is in, {@code stepInEpoch} of its steps done
 * @param weights the weights and BatchNorm statistics of every layer, as
 *     {@code LayeredModel.exportWeights} lays them out
 * @param optimizer the optimizer state of each slice this device updated (empty when fetched)
 * @param optimizerUpdates optimizer steps behind that state
 */
record CommittedState(String jobId, long step, int epoch, int stepInEpoch, float[] weights,
    List<Checkpoint.SliceState> optimizer, int optimizerUpdates) {

  /** The model of {@code restore}'s step, fetched from a peer: no optimizer state. */
  static CommittedState fetched(String jobId, DeviceCommand.Restore restore, float[] weights) {
    return new CommittedState(jobId, restore.step(), restore.epoch(), restore.stepInEpoch(), weights, List.of(), 0);
  }

  /** What it holds, as the device reports it. */
  DeviceEvent.HeldState held() {
    return new DeviceEvent.HeldState(step, epoch, stepInEpoch, optimizer.stream()
        .map(s -> new GroupPlan.Slice(s.slice().layer(), s.slice().from(), s.slice().to())).toList());
  }

  boolean isOf(String job, long steps) {
    return jobId.equals(job) && step == steps;
  }
}
