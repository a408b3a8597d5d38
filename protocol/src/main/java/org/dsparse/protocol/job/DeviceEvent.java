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
   * @param taken how the device took that state over the network, {@link StateTaken#HELD} when it held it
   */
  record Prepared(String device, int stepsPerEpoch, int epoch, long step, StateTaken taken) implements DeviceEvent {
    public Prepared(String device, int stepsPerEpoch, int epoch, long step) {
      this(device, stepsPerEpoch, epoch, step, StateTaken.HELD);
    }
  }

  /**
   * How a device without a re-planned job's state took it.
   *
   * @param from {@code shards} (the committing plan's layer shards, each from its home) or
   *     {@code device NAME} (that device's snapshot); empty: the device held the state itself
   * @param seconds from asking to holding all of it
   * @param bytes the state's floats received, as bytes
   * @param note why the shards were not used, when they were tried first; else empty
   */
  record StateTaken(String from, double seconds, long bytes, String note)
      implements org.dsparse.protocol.control.ControlMessage {
    public static final StateTaken HELD = new StateTaken("", 0, 0, "");

    public boolean fetched() {
      return !from.isEmpty();
    }
  }

  record StepCompleted(String device, long step, StepMetrics metrics) implements DeviceEvent {}

  /** Correct predictions among {@code total} samples of the device's share of the test set. */
  record Evaluated(String device, long correct, long total) implements DeviceEvent {}

  record CheckpointSaved(String device, String path) implements DeviceEvent {}

  /**
   * The device stopped its part of the job's step; it can continue from these states.
   *
   * @param snapshot the committed state it keeps a snapshot of, or null
   * @param live its model's state when its last step completed and none ran since, else null
   */
  record Abandoned(String device, HeldState snapshot, HeldState live) implements DeviceEvent {
    /** Whether it can continue from the state after {@code step} steps. */
    public boolean holds(long step) {
      return snapshot != null && snapshot.step() == step || live != null && live.step() == step;
    }

    /** The optimizer slices of the state after {@code step} steps it would continue from (its snapshot first). */
    public java.util.List<GroupPlan.Slice> slicesAt(long step) {
      HeldState held = snapshot != null && snapshot.step() == step ? snapshot : live;
      return held != null && held.step() == step ? held.optimizerSlices() : java.util.List.of();
    }
  }

  /**
   * A state of a job a device holds: after {@code step} steps, {@code stepInEpoch} of them in epoch
   * {@code epoch}, with the optimizer state of {@code optimizerSlices}.
   */
  record HeldState(long step, int epoch, int stepInEpoch, java.util.List<GroupPlan.Slice> optimizerSlices)
      implements org.dsparse.protocol.control.ControlMessage {
    public HeldState {
      optimizerSlices = java.util.List.copyOf(optimizerSlices);
    }
  }

  /**
   * Floats {@code offset} onwards of the {@code totalLength} floats of the job's state after
   * {@code step} steps as a device holds it: the model's {@code weightsLength} floats (weights and
   * BatchNorm statistics of every layer), then the optimizer state of each of
   * {@code optimizerSlices}, {@code optimizerLengths} floats each, after {@code optimizerUpdates}
   * optimizer steps. Every part repeats the layout.
   */
  record StatePart(String device, long step, int offset, int totalLength, int weightsLength,
      java.util.List<GroupPlan.Slice> optimizerSlices, int[] optimizerLengths, int optimizerUpdates, float[] part)
      implements DeviceEvent {
    @Override
    public String wireChannel() {
      return org.dsparse.protocol.wire.WireTraffic.SHARD;
    }
  }

  /** The device could not do what was asked; {@code reason} names the cause (and any peer blamed). */
  record Failed(String device, String jobId, String reason) implements DeviceEvent {}
}
