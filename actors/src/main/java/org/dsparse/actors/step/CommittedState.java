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
 * fetches it, from the job's LayerShards or from a device that has it. Never modified once taken.
 *
 * @param epoch the epoch the state is in, {@code stepInEpoch} of its steps done
 * @param weights the weights and BatchNorm statistics of every layer, as
 *     {@code LayeredModel.exportWeights} lays them out; empty while the state is in {@code groups}
 * @param groups the state as it came from the LayerShards, group by group, before a model laid it
 *     out ({@link #inGroups}); empty once it is in {@code weights} and {@code optimizer}
 * @param optimizer the optimizer state of each slice this device updated, or fetched
 * @param optimizerUpdates optimizer steps behind that state
 */
public record CommittedState(String jobId, long step, int epoch, int stepInEpoch, float[] weights,
    List<GroupState> groups, List<Checkpoint.SliceState> optimizer, int optimizerUpdates) {

  /**
   * One group's part of the state, as its LayerShard keeps it.
   *
   * @param weights the slices' weights and buffers, laid out as {@code LayeredModel.exportWeights(slices)}
   * @param optimizer the optimizer state of {@code optimizerSlices} one after another, as their
   *     updaters hold it
   * @param optimizerSlices those of {@code slices} whose optimizer state came (a reader asks only for
   *     what it keeps; a shard whose home did not update the group has none)
   */
  public record GroupState(String groupId, List<GroupPlan.Slice> slices, float[] weights, float[] optimizer,
      List<GroupPlan.Slice> optimizerSlices) {
    public GroupState {
      slices = List.copyOf(slices);
      optimizerSlices = List.copyOf(optimizerSlices);
    }
  }

  public CommittedState {
    groups = List.copyOf(groups);
    optimizer = List.copyOf(optimizer);
  }

  /** A state laid out whole. */
  public CommittedState(String jobId, long step, int epoch, int stepInEpoch, float[] weights,
      List<Checkpoint.SliceState> optimizer, int optimizerUpdates) {
    this(jobId, step, epoch, stepInEpoch, weights, List.of(), optimizer, optimizerUpdates);
  }

  /** The state of {@code restore}'s step read from its LayerShards, one {@link GroupState} per group. */
  public static CommittedState fromShards(String jobId, DeviceCommand.Restore restore, List<GroupState> groups,
      int optimizerUpdates) {
    return new CommittedState(jobId, restore.step(), restore.epoch(), restore.stepInEpoch(), new float[0], groups,
        List.of(), optimizerUpdates);
  }

  /** Whether the state is still group by group, as the shards gave it: a model lays it out. */
  public boolean inGroups() {
    return !groups.isEmpty();
  }

  /**
   * The optimizer state of each of {@code slices}, in their order, as a shard keeps it; empty unless
   * this state holds every one of them.
   */
  public List<float[]> optimizerOf(List<GroupPlan.Slice> slices) {
    List<float[]> states = new java.util.ArrayList<>();
    for (GroupPlan.Slice slice : slices) {
      ChannelSlice wanted = new ChannelSlice(slice.layer(), slice.from(), slice.to());
      java.util.Optional<Checkpoint.SliceState> held = optimizer.stream().filter(s -> s.slice().equals(wanted))
          .findFirst();
      if (held.isEmpty()) {
        return List.of();
      }
      states.add(held.get().state());
    }
    return List.copyOf(states);
  }

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
        optimizer, layout.optimizerUpdates());
  }

  /** The same state with the optimizer state of {@code slices} alone (those of them it holds). */
  public CommittedState withOptimizerOf(List<GroupPlan.Slice> slices) {
    List<Checkpoint.SliceState> asked = optimizer.stream().filter(s -> slices.contains(
        new GroupPlan.Slice(s.slice().layer(), s.slice().from(), s.slice().to()))).toList();
    return new CommittedState(jobId, step, epoch, stepInEpoch, weights, groups, asked, optimizerUpdates);
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
