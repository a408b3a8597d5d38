package org.dsparse.actors.step;

import java.util.List;
import org.dsparse.protocol.job.StepMetrics;

/**
 * What one step did on one device, whatever the mode.
 *
 * @param computeNanos wall time of its model work
 * @param allReduceNanos its AllReduces' own time (groups run at once: the longest of each round;
 *     a group's parts one after another: their sum)
 * @param broadcastNanos the same for its refresh Broadcasts
 * @param collectiveWallNanos wall time spent waiting for collectives, later members included
 * @param allReduceBytes payload this device contributed to AllReduces
 * @param broadcastBytes payload of the Broadcasts it sent or received
 * @param segments its backward's segments: times and AllReduce payloads
 * @param groupTimes each of its groups' own collective time in the step, by kind
 */
public record StepResult(float loss, long computeNanos, long allReduceNanos, long broadcastNanos,
    long collectiveWallNanos, long allReduceBytes, long broadcastBytes,
    StepMetrics.Segments segments, List<StepMetrics.GroupTime> groupTimes) {

  /** The segments of a backward that is not cut and sends nothing while it runs. */
  public static final StepMetrics.Segments UNCUT = new StepMetrics.Segments(List.of(), new double[] {0},
      new long[] {0}, new double[] {0});
}
