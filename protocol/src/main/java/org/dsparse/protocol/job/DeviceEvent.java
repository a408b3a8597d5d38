package org.dsparse.protocol.job;

import org.dsparse.protocol.control.ControlMessage;

/** What Device actors report back to the coordinator. */
public sealed interface DeviceEvent extends ControlMessage {
  String device();

  /** A device introduces itself; {@code self} is where it takes commands. */
  record Described(String device, String address, long budgetBytes,
      org.apache.pekko.actor.typed.ActorRef<DeviceCommand> self) implements DeviceEvent {}

  /**
   * @param stepsPerEpoch whole batches in this device's data shard
   * @param epoch the epoch its state continues in (0 for a fresh start)
   * @param step the steps its state has done (0 for a fresh start)
   */
  record Prepared(String device, int stepsPerEpoch, int epoch, long step) implements DeviceEvent {}

  record StepCompleted(String device, long step, StepMetrics metrics) implements DeviceEvent {}

  /** Correct predictions among {@code total} samples of the device's share of the test set. */
  record Evaluated(String device, long correct, long total) implements DeviceEvent {}

  record CheckpointSaved(String device, String path) implements DeviceEvent {}

  /** The device could not do what was asked; {@code reason} names the cause (and any peer blamed). */
  record Failed(String device, String jobId, String reason) implements DeviceEvent {}
}
