package org.dsparse.protocol.job;

import org.dsparse.protocol.control.ControlMessage;

/** What Device actors report back to the coordinator. */
public sealed interface DeviceEvent extends ControlMessage {
  String device();

  /** A device introduces itself; {@code self} is where it takes commands. */
  record Described(String device, String address, long budgetBytes,
      org.apache.pekko.actor.typed.ActorRef<DeviceCommand> self) implements DeviceEvent {}

  /**
   * @param baselineRssBytes the process's resident size before the model was built
   * @param layerCount layers of the model
   * @param stepsPerEpoch whole batches in this device's data shard
   */
  record Prepared(String device, long baselineRssBytes, int layerCount, int stepsPerEpoch)
      implements DeviceEvent {}

  record StepCompleted(String device, long step, StepMetrics metrics) implements DeviceEvent {}

  record Evaluated(String device, long correct, long total, double lossSum) implements DeviceEvent {}

  record CheckpointSaved(String device, String path) implements DeviceEvent {}

  /** The device could not do what was asked; {@code reason} names the cause (and any peer blamed). */
  record Failed(String device, String jobId, String reason) implements DeviceEvent {}
}
