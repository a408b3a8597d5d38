package org.dsparse.actors.step;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.junit.jupiter.api.Test;

/** A joining device's model, put together from the groups its layer shards hold. */
class GroupLayoutTest {
  private static final DeviceCommand.Restore RESTORE = new DeviceCommand.Restore(5, 0, 5, "d1", null, List.of(),
      List.of());

  @Test
  void theGroupsMakeTheModelTheyCameFromBitForBit() throws IOException {
    try (LayeredModel trained = model(1); LayeredModel joiner = model(2)) {
      int[] all = IntStream.range(0, trained.layerCount()).toArray();
      assertFalse(java.util.Arrays.equals(trained.exportWeights(all), joiner.exportWeights(all)));
      CommittedState state = CommittedState.fromShards("job", RESTORE, groupsOf(trained, false), 0);

      GroupLayout.importGroups(joiner, state);

      assertArrayEquals(trained.exportWeights(all), joiner.exportWeights(all));
      CommittedState whole = GroupLayout.laidOut(joiner, state);
      assertFalse(whole.inGroups());
      assertArrayEquals(trained.exportWeights(all), whole.weights());
      assertEquals(5, whole.step());
    }
  }

  @Test
  void eachGroupsOptimizerStateIsSplitSliceBySlice() throws IOException {
    try (LayeredModel trained = model(1); LayeredModel joiner = model(2)) {
      List<CommittedState.GroupState> groups = groupsOf(trained, true);
      CommittedState state = CommittedState.fromShards("job", RESTORE, groups, 9);
      GroupLayout.importGroups(joiner, state);

      CommittedState whole = GroupLayout.laidOut(joiner, state);

      List<Checkpoint.SliceState> expected = new ArrayList<>();
      for (CommittedState.GroupState group : groups) {
        int offset = 0;
        for (GroupPlan.Slice s : group.slices()) {
          ChannelSlice slice = new ChannelSlice(s.layer(), s.from(), s.to());
          int length = trained.trainableLength(List.of(slice));
          expected.add(new Checkpoint.SliceState(slice,
              java.util.Arrays.copyOfRange(group.optimizer(), offset, offset + length)));
          offset += length;
        }
      }
      assertEquals(expected.size(), whole.optimizer().size());
      for (int i = 0; i < expected.size(); i++) {
        assertEquals(expected.get(i).slice(), whole.optimizer().get(i).slice());
        assertArrayEquals(expected.get(i).state(), whole.optimizer().get(i).state(), "slice " + expected.get(i).slice());
      }
      assertEquals(9, whole.optimizerUpdates());
      // And back: what a home stores of a group is what the joiner took.
      CommittedState.GroupState first = groups.get(0);
      List<float[]> back = whole.optimizerOf(first.slices());
      float[] joined = new float[back.stream().mapToInt(s -> s.length).sum()];
      int at = 0;
      for (float[] s : back) {
        System.arraycopy(s, 0, joined, at, s.length);
        at += s.length;
      }
      assertArrayEquals(first.optimizer(), joined);
    }
  }

  @Test
  void aLayerNoGroupCoversIsNamed() {
    try (LayeredModel trained = model(1); LayeredModel joiner = model(2)) {
      List<CommittedState.GroupState> groups = new ArrayList<>(groupsOf(trained, false));
      GroupPlan.Slice dropped = groups.get(0).slices().get(0);
      groups.set(0, groupOf(trained, "g0", groups.get(0).slices().subList(1, groups.get(0).slices().size()), false));
      CommittedState state = CommittedState.fromShards("job", RESTORE, groups, 0);

      IOException e = assertThrows(IOException.class, () -> GroupLayout.importGroups(joiner, state));

      assertTrue(e.getMessage().contains("do not cover layer " + dropped.layer()), e.getMessage());
    }
  }

  /** A uniform tail's shards hold only the tail: the layers below stay as the joiner started them. */
  @Test
  void aPlanThatFreezesLayersEverywhereLeavesThemAsTheModelStarted() throws IOException {
    try (LayeredModel trained = model(1); LayeredModel joiner = model(2)) {
      List<CommittedState.GroupState> groups = new ArrayList<>(groupsOf(trained, false));
      int first = groups.get(0).slices().get(0).layer();
      ChannelSlice frozen = joiner.layer(first).whole(first);
      float[] started = joiner.exportWeights(List.of(frozen));
      List<CommittedState.GroupState> tail = new ArrayList<>();
      for (CommittedState.GroupState g : groups) {
        List<GroupPlan.Slice> kept = g.slices().stream().filter(s -> s.layer() != first).toList();
        if (!kept.isEmpty()) {
          tail.add(groupOf(trained, g.groupId(), kept, false));
        }
      }
      CommittedState state = CommittedState.fromShards("job", RESTORE, tail, 0);
      assertThrows(IOException.class, () -> GroupLayout.importGroups(joiner, state));

      GroupLayout.importGroups(joiner, state, true);

      assertArrayEquals(started, joiner.exportWeights(List.of(frozen)));
      for (CommittedState.GroupState g : tail) {
        List<ChannelSlice> slices = g.slices().stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList();
        assertArrayEquals(trained.exportWeights(slices), joiner.exportWeights(slices), g.groupId());
      }
    }
  }

  private static LayeredModel model(int seed) {
    return Models.create("small-cnn", new Shape(1, 28, 28), 10, seed);
  }

  /**
   * Three groups over every layer with weights, as a DSparse plan makes them: each layer's channels
   * split in two slices in different groups, every other layer whole.
   */
  private static List<CommittedState.GroupState> groupsOf(LayeredModel model, boolean withOptimizer) {
    List<List<GroupPlan.Slice>> slices = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    int at = 0;
    for (int i = 0; i < model.layerCount(); i++) {
      ChannelSlice whole = model.layer(i).whole(i);
      if (model.weightLength(List.of(whole)) == 0) {
        continue;
      }
      if (at % 2 == 0 && whole.to() >= 2) {
        int half = whole.to() / 2;
        slices.get(at % 3).add(new GroupPlan.Slice(i, 0, half));
        slices.get((at + 1) % 3).add(new GroupPlan.Slice(i, half, whole.to()));
      } else {
        slices.get(at % 3).add(GroupPlan.Slice.whole(i, whole.to()));
      }
      at++;
    }
    List<CommittedState.GroupState> groups = new ArrayList<>();
    for (int g = 0; g < slices.size(); g++) {
      groups.add(groupOf(model, "g" + g, slices.get(g), withOptimizer));
    }
    return groups;
  }

  private static CommittedState.GroupState groupOf(LayeredModel model, String id, List<GroupPlan.Slice> slices,
      boolean withOptimizer) {
    List<ChannelSlice> channels = slices.stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList();
    float[] optimizer = new float[withOptimizer ? model.trainableLength(channels) : 0];
    for (int i = 0; i < optimizer.length; i++) {
      optimizer[i] = id.hashCode() % 97 + i * 0.25f;
    }
    return new CommittedState.GroupState(id, slices, model.exportWeights(channels), optimizer,
        withOptimizer ? slices : List.of());
  }
}
