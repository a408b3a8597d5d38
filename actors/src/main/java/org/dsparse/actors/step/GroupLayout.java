package org.dsparse.actors.step;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;

/**
 * A committed state that came group by group from the LayerShards ({@link CommittedState#inGroups}),
 * put into a model: the groups must cover every layer with weights, channel for channel, since a
 * joining device has no other copy of the model; only a plan that freezes layers on every device
 * leaves those to the job's start. Runs on the DJL thread.
 */
public final class GroupLayout {
  private GroupLayout() {}

  /**
   * Overwrites {@code model}'s weights with the groups' of {@code state}; fails naming the first
   * layer no group covers, or a group whose weights do not fit its slices.
   */
  public static void importGroups(LayeredModel model, CommittedState state) throws IOException {
    importGroups(model, state, false);
  }

  /**
   * The same; with {@code frozenByPlan} (a plan that freezes layers on every device on purpose, a
   * uniform tail's) a layer no group holds is left as {@code model} holds it, which must then be the
   * job's start: nobody updated it since.
   */
  public static void importGroups(LayeredModel model, CommittedState state, boolean frozenByPlan) throws IOException {
    checkCovers(model, state, frozenByPlan);
    for (CommittedState.GroupState group : state.groups()) {
      try {
        model.importWeights(channelSlices(group.slices()), group.weights());
      } catch (IllegalArgumentException e) {
        throw new IOException("the layer shard of group " + group.groupId() + " after step " + state.step()
            + " does not fit the job's model: " + e.getMessage());
      }
    }
  }

  /**
   * {@code state} laid out whole: {@code model}'s weights (into which {@link #importGroups} put it)
   * and each group's optimizer state slice by slice. A slice's part of the optimizer state that came
   * is in proportion to its trainable weights, since every trainable weight has the same number of
   * optimizer values (one for momentum, two for Adam).
   */
  public static CommittedState laidOut(LayeredModel model, CommittedState state) throws IOException {
    float[] weights = model.exportWeights(IntStream.range(0, model.layerCount()).toArray());
    List<Checkpoint.SliceState> optimizer = new ArrayList<>();
    for (CommittedState.GroupState group : state.groups()) {
      if (group.optimizer().length == 0) {
        continue;
      }
      List<ChannelSlice> slices = channelSlices(group.optimizerSlices());
      int trainable = model.trainableLength(slices);
      if (trainable == 0 || group.optimizer().length % trainable != 0) {
        throw new IOException("the layer shard of group " + group.groupId() + " holds " + group.optimizer().length
            + " floats of optimizer state for " + trainable + " trainable weights");
      }
      int perWeight = group.optimizer().length / trainable;
      int offset = 0;
      for (ChannelSlice slice : slices) {
        int length = perWeight * model.trainableLength(List.of(slice));
        optimizer.add(new Checkpoint.SliceState(slice,
            java.util.Arrays.copyOfRange(group.optimizer(), offset, offset + length)));
        offset += length;
      }
    }
    return new CommittedState(state.jobId(), state.step(), state.epoch(), state.stepInEpoch(), weights, optimizer,
        state.optimizerUpdates());
  }

  /**
   * Every layer with weights is covered by the groups' slices exactly once, channel for channel; with
   * {@code frozenByPlan}, or not at all.
   */
  private static void checkCovers(LayeredModel model, CommittedState state, boolean frozenByPlan) throws IOException {
    List<List<GroupPlan.Slice>> byLayer = new ArrayList<>();
    for (int i = 0; i < model.layerCount(); i++) {
      byLayer.add(new ArrayList<>());
    }
    for (CommittedState.GroupState group : state.groups()) {
      for (GroupPlan.Slice slice : group.slices()) {
        if (slice.layer() >= model.layerCount()) {
          throw new IOException("the layer shard of group " + group.groupId() + " names layer " + slice.layer()
              + "; the job's model has " + model.layerCount());
        }
        byLayer.get(slice.layer()).add(slice);
      }
    }
    for (int i = 0; i < model.layerCount(); i++) {
      ChannelSlice whole = model.layer(i).whole(i);
      if (model.weightLength(List.of(whole)) == 0) {
        continue;
      }
      List<GroupPlan.Slice> slices = new ArrayList<>(byLayer.get(i));
      if (slices.isEmpty() && frozenByPlan) {
        continue;
      }
      slices.sort(Comparator.comparingInt(GroupPlan.Slice::from));
      int next = whole.from();
      for (GroupPlan.Slice slice : slices) {
        if (slice.from() != next) {
          break;
        }
        next = slice.to();
      }
      if (next != whole.to() || slices.stream().mapToInt(s -> s.to() - s.from()).sum() != whole.to() - whole.from()) {
        throw new IOException("the layer shards of step " + state.step() + " do not cover layer " + i + " ("
            + model.layer(i).name() + ", channels [" + whole.from() + ", " + whole.to() + ")): they hold " + slices);
      }
    }
  }

  private static List<ChannelSlice> channelSlices(List<GroupPlan.Slice> slices) {
    return slices.stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList();
  }
}
