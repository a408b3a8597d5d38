package org.dsparse.protocol.job;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.protocol.control.ControlMessage;

/** What the coordinator asks of a Device actor. */
public sealed interface DeviceCommand extends ControlMessage {

  /** Asks for the device's name, address and budget. */
  record Describe(ActorRef<DeviceEvent> replyTo) implements DeviceCommand {}

  /**
   * Sets the device up for a job: build the model (or load the initial checkpoint), load its data
   * shard, take its part of the plan and create its process groups.
   *
   * @param devices every device of the job in rank order
   * @param assignment this device's part of the plan
   * @param groups every aggregation group of the plan (a device joins those it belongs to)
   */
  record Prepare(JobSpec spec, List<DeviceInfo> devices, Assignment assignment, List<GroupPlan> groups,
      Restore restore, ActorRef<DeviceEvent> replyTo) implements DeviceCommand {
    /** A fresh start (or a resume from the job's {@code resume-from}): no state to continue from. */
    public Prepare(JobSpec spec, List<DeviceInfo> devices, Assignment assignment, List<GroupPlan> groups,
        ActorRef<DeviceEvent> replyTo) {
      this(spec, devices, assignment, groups, null, replyTo);
    }
  }

  /**
   * Where a re-planned job continues: after {@code step} steps, at batch {@code stepInEpoch} of epoch
   * {@code epoch}, the last step every device committed. A device takes that state from its own
   * snapshot (or from its live model when no step ran since), else from the LayerShards of
   * {@code shards}, each group's from its own home, all at once, and from {@code source}'s snapshot
   * when a shard does not hold that step. It keeps its optimizer state of the
   * {@code keptOptimizerState} slices, which every updater of theirs updated before, so that they all
   * hold the same; the optimizer state of other slices starts again from zero (on every updater
   * alike).
   *
   * @param shards the groups of the plan that committed {@code step}, whose shards hold it; empty:
   *     fetch from {@code source}
   */
  record Restore(long step, int epoch, int stepInEpoch, String source, ActorRef<DeviceCommand> sourceDevice,
      List<GroupPlan.Slice> keptOptimizerState, List<GroupPlan> shards) implements ControlMessage {
    public Restore {
      keptOptimizerState = List.copyOf(keptOptimizerState);
      shards = List.copyOf(shards);
    }

    /** The same restore keeping the optimizer state of {@code slices}. */
    public Restore keeping(List<GroupPlan.Slice> slices) {
      return new Restore(step, epoch, stepInEpoch, source, sourceDevice, slices, shards);
    }

    /** The same restore reading {@code groups}' shards. */
    public Restore fromShards(List<GroupPlan> groups) {
      return new Restore(step, epoch, stepInEpoch, source, sourceDevice, keptOptimizerState, groups);
    }

    /** The same restore from the source device alone. */
    public Restore fromSource() {
      return fromShards(List.of());
    }
  }

  /**
   * Runs one synchronous step, step {@code stepInEpoch} of epoch {@code epoch} (from 0): forward,
   * backward through the updated layers, AllReduce in each of the device's groups, optimizer step,
   * and, when {@code refresh}, the weight Broadcast to devices outside each group. With periodic model averaging the AllReduce averages weights instead, after
   * the step, and only when {@code average}. {@code evaluated}: the job evaluates the model after
   * this step (and saves it, at an epoch's end). {@code overlapCuts}: layer indices where every device
   * cuts this step's backward, to AllReduce each segment while the backward goes on below (empty:
   * none). {@code refresh}: what the step sends to the devices that do not update a group.
   * {@code snapshot}: every device completed the previous step and it refreshed all weights exactly,
   * so it is committed: first keep the model and optimizer state as they stand, which a
   * {@link Restore} to this step takes back if a device is lost later.
   */
  record RunStep(String jobId, int epoch, int stepInEpoch, long step, boolean average, Refresh refresh,
      boolean evaluated, List<Integer> overlapCuts, boolean snapshot, ActorRef<DeviceEvent> replyTo) implements DeviceCommand {
    public RunStep {
      overlapCuts = List.copyOf(overlapCuts);
    }
  }

  /**
   * Stops the job's step in flight and its process groups, and answers {@link DeviceEvent.Abandoned}
   * once no model work of it is left: the job is then re-planned. The model and data stay until the
   * next {@link Prepare}.
   */
  record Abandon(String jobId, ActorRef<DeviceEvent> replyTo) implements DeviceCommand {}

  /**
   * Asks for the job's model (weights and BatchNorm statistics of every layer) as it stood after
   * {@code step} steps, with the optimizer state the device holds of {@code optimizerSlices}, in
   * {@link DeviceEvent.StatePart}s; a device without it answers {@link DeviceEvent.Failed}.
   */
  record FetchState(String jobId, long step, List<GroupPlan.Slice> optimizerSlices, ActorRef<DeviceEvent> replyTo)
      implements DeviceCommand {
    public FetchState {
      optimizerSlices = List.copyOf(optimizerSlices);
    }
  }

  /** Evaluates this device's share of the test set with its current weights. */
  record Evaluate(String jobId, int shard, int shards, ActorRef<DeviceEvent> replyTo)
      implements DeviceCommand {}

  /**
   * Saves the device's whole model (after a refresh every device holds the same weights) to
   * {@code path}, with where training stands (the next step, {@code step}, starts epoch
   * {@code nextEpoch}), the optimizer state of what the device updates, and the plan's text.
   */
  record SaveCheckpoint(String jobId, String path, int nextEpoch, long step, String plan,
      ActorRef<DeviceEvent> replyTo) implements DeviceCommand {}

  /** Ends the job: stops its groups and frees its model. */
  record EndJob(String jobId) implements DeviceCommand {}
}
