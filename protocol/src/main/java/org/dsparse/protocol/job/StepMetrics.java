package org.dsparse.protocol.job;

import org.dsparse.protocol.control.ControlMessage;

/**
 * One device's account of one step.
 *
 * @param loss mean training loss of its batch
 * @param computeMillis forward, backward, gradient export/import and optimizer step
 * @param allReduceMillis its AllReduces' own time, from the moment their last member started them
 *     to their end (groups run at once, so the longest counts): what aggregation costs, without the
 *     wait for devices that computed longer
 * @param broadcastMillis the same for its refresh Broadcasts
 * @param collectiveWallMillis wall time this device spent in collectives, waiting included
 * @param allReduceBytes payload bytes it contributed to AllReduces (what the plan moves)
 * @param broadcastBytes payload bytes of Broadcasts it sent or received
 * @param wire bytes its transports put on and took off the network, by group and kind, since its
 *     previous step ended (so every byte counts once, in the step it belongs to or the next)
 * @param trainingBytes resident growth since before the model was built (current)
 * @param peakTrainingBytes the same at its peak so far
 */
public record StepMetrics(
    float loss,
    double computeMillis,
    double allReduceMillis,
    double broadcastMillis,
    double collectiveWallMillis,
    long allReduceBytes,
    long broadcastBytes,
    java.util.List<WireBytes> wire,
    long trainingBytes,
    long peakTrainingBytes) implements ControlMessage {

  public StepMetrics {
    wire = java.util.List.copyOf(wire);
  }

  /** Bytes sent plus received, all kinds. */
  public long wireBytes() {
    return wire.stream().mapToLong(WireBytes::total).sum();
  }

  public double aggregationMillis() {
    return allReduceMillis + broadcastMillis;
  }
}
