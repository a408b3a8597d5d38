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
 * @param segments what it measured of its backward's segments (one without overlap), for the
 *     scheduler of the cuts * @param groupTimes each process group's own collective time on this device, by kind
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
    long peakTrainingBytes,
    Segments segments,
    java.util.List<GroupTime> groupTimes) implements ControlMessage {

  public StepMetrics {
    wire = java.util.List.copyOf(wire);
    groupTimes = java.util.List.copyOf(groupTimes);
  }

  /**
   * A process group's collective time in one step on one device, from the moment every member had
   * started it: an AllReduce's parts summed, or a refresh.
   *
   * @param kind {@link WireBytes#ALL_REDUCE}, {@link WireBytes#BROADCAST} or {@link WireBytes#REFRESH}
   */
  public record GroupTime(String group, String kind, double millis) implements ControlMessage {}

  /**
   * One step's backward segments, lowest first.
   *
   * @param cuts where the backward was cut
   * @param backwardMillis each segment's backward, its gradients' hand-over to the collectives included
   * @param bytes each segment's AllReduce payload on this device
   * @param transferMillis each segment's AllReduce time, from the moment every member had started it
   *     (its groups at once: the longest)
   */
  public record Segments(java.util.List<Integer> cuts, double[] backwardMillis, long[] bytes,
      double[] transferMillis) implements ControlMessage {
    public Segments {
      cuts = java.util.List.copyOf(cuts);
    }
  }

  /** Bytes sent plus received, all kinds. */
  public long wireBytes() {
    return wire.stream().mapToLong(WireBytes::total).sum();
  }

  public double aggregationMillis() {
    return allReduceMillis + broadcastMillis;
  }
}
