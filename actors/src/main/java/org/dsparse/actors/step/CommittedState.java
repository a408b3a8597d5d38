package org.dsparse.actors.step;

import java.util.List;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;

/**
 * A device's state after {@code step} steps of job {@code jobId}, a step every device completed and
 * that refreshed every layer: the whole model as every device then holds it, and the optimizer state
 * of the slices this device updated. A job that loses a device rolls back to it; a device without it
 * fetches it from one that has it. Never modified once taken.
 *
 * @param epoch the epoch the state is in, {@code stepInEpoch} of its steps done
 * @param weights the weights and BatchNorm statistics of every layer, as
 *     {@code LayeredModel.exportWeights} lays them out
 * @param optimizer the optimizer state of each slice this device updated (empty when fetched)
 * @param optimizerUpdates optimizer steps behind that state
 */
public record CommittedState(String jobId, long step, int epoch, int stepInEpoch, float[] weights,
    List<Checkpoint.SliceState> optimizer, int optimizerUpdates) {

  /**
   * The state of {@code restore}'s step fetched from a peer, laid out as {@link #flattened} with the
   * layout the peer's parts describe.
   */
  public static CommittedState fetched(String jobId, DeviceCommand.Restore restore, DeviceEvent.StatePart layout,
      float[] flat) {
    float[] weights = java.util.Arrays.copyOf(flat, layout.weightsLength());
    List<Checkpoint.SliceState> optimizer = new java.util.ArrayList<>();
    int offset = layout.weightsLength();
    for (int i = 0; i < layout.optimizerSlices().size(); i++) {
      GroupPlan.Slice s = layout.optimizerSlices().get(i);
      int length = layout.optimizerLengths()[i];
      optimizer.add(new Checkpoint.SliceState(new ChannelSlice(s.layer(), s.from(), s.to()),
          java.util.Arrays.copyOfRange(flat, offset, offset + length)));
      offset += length;
    }
    return new CommittedState(jobId, restore.step(), restore.epoch(), restore.stepInEpoch(), weights,
        List.copyOf(optimizer), layout.optimizerUpdates());
  }

  /** The weights, then each slice's optimizer state, in one array: what a peer is sent. */
  public float[] flattened() {
    int length = weights.length + optimizer.stream().mapToInt(s -> s.state().length).sum();
    float[] flat = java.util.Arrays.copyOf(weights, length);
    int offset = weights.length;
    for (Checkpoint.SliceState s : optimizer) {
      System.arraycopy(s.state(), 0, flat, offset, s.state().length);
      offset += s.state().length;
    }
    return flat;
  }

  /** What it holds, as the device reports it. */
  public DeviceEvent.HeldState held() {
    return new DeviceEvent.HeldState(step, epoch, stepInEpoch, optimizer.stream()
        .map(s -> new GroupPlan.Slice(s.slice().layer(), s.slice().from(), s.slice().to())).toList());
  }

  public boolean isOf(String job, long steps) {
    return jobId.equals(job) && step == steps;
  }
}
