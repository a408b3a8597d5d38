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
      ActorRef<DeviceEvent> replyTo) implements DeviceCommand {}

  /**
   * Runs one synchronous step: forward, backward through the updated layers, AllReduce in each of
   * the device's groups, optimizer step, and, when {@code refresh}, the weight Broadcast to devices
   * outside each group. With periodic model averaging the AllReduce averages weights instead, after
   * the step, and only when {@code average}. {@code overlapCuts}: layer indices where every device
   * cuts this step's backward, to AllReduce each segment while the backward goes on below (empty:
   * none).
   */
  record RunStep(String jobId, int epoch, long step, boolean average, boolean refresh, List<Integer> overlapCuts,
      ActorRef<DeviceEvent> replyTo) implements DeviceCommand {
    public RunStep {
      overlapCuts = List.copyOf(overlapCuts);
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
