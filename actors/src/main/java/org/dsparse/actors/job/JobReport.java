package org.dsparse.actors.job;

import java.util.List;
import org.dsparse.protocol.job.JobSpec;

/**
 * A finished job's figures.
 *
 * @param aggMillisPerStep mean over steps of the slowest device's AllReduce and Broadcast time in
 *     that step (the step's aggregation critical path; collectives timed from their last member's start)
 * @param stepMillis mean wall time of a step
 * @param testAccuracy after the last epoch
 * @param epochAccuracies after each epoch
 * @param epochLosses mean training loss of each epoch
 */
public record JobReport(
    JobSpec spec,
    String plan,
    long fullUpdatePeakBytes,
    List<DeviceReport> devices,
    long steps,
    double aggMillisPerStep,
    double stepMillis,
    double testAccuracy,
    List<Double> epochAccuracies,
    List<Double> epochLosses,
    List<String> checkpoints) {

  /**
   * @param predictedBytes the memory model's prediction for its update set
   * @param measuredBytes peak resident growth while training (0 when not measured)
   * @param aggMillisPerStep its mean AllReduce and Broadcast time per step, from the moment every
   *     member had started each collective (see {@code StepMetrics})
   * @param collectiveWallMillisPerStep its mean wall time in collectives, waiting for slower devices included
   * @param computeMillisPerStep its mean DJL time per step
   * @param bytesPerStep payload it sent or received in collectives per step
   */
  public record DeviceReport(String name, long budgetBytes, int updatedLayers, long predictedBytes,
      long measuredBytes, double aggMillisPerStep, double allReduceMillisPerStep,
      double broadcastMillisPerStep, double collectiveWallMillisPerStep, double computeMillisPerStep,
      double bytesPerStep) {}
}
