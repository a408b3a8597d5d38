package org.dsparse.actors.job;

import java.util.List;
import java.util.Map;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.StepMetrics;

/** What a {@link JobCoordinator} tells whoever submitted the job (on the same node). */
public sealed interface JobEvent {

  /**
   * The plan the devices were given (again after each re-plan).
   *
   * @param devices the job's devices, with their budgets
   * @param plan who updates which slices, the process groups and their shards' homes
   */
  record Planned(String jobId, String description, List<DeviceInfo> devices, PlannedJob plan)
      implements JobEvent {}

  /**
   * One synchronous step is done on every device.
   *
   * @param loss mean of the devices' batch losses
   * @param stepMillis wall time of the step, from asking the devices to the last answer
   * @param etaSeconds expected time to the end of the job at the current pace
   * @param devices each device's own account of the step
   */
  record StepReported(String jobId, int epoch, long step, long totalSteps, double loss, double stepMillis,
      double etaSeconds, Map<String, StepMetrics> devices) implements JobEvent {

    /** The step's aggregation critical path: its slowest device's AllReduce and Broadcast time. */
    public double aggregationMillis() {
      return devices.values().stream().mapToDouble(StepMetrics::aggregationMillis).max().orElse(0);
    }
  }

  /** Test accuracy after {@code step} steps (every evaluate-every steps and at each epoch end). */
  record Evaluated(String jobId, long step, double testAccuracy) implements JobEvent {}

  /** An epoch ended: evaluation on the test set after a full weight refresh. */
  record EpochEvaluated(String jobId, int epoch, double testAccuracy, double meanLoss, String checkpoint)
      implements JobEvent {}

  /** A device joined the cluster while the job runs: it is adopted at the next committed step. */
  record Joining(String jobId, String device) implements JobEvent {}

  /** A device was lost or joins: the job abandons its step and recovers from its last committed step. */
  record Recovering(String jobId, JobReport.Recovery recovery) implements JobEvent {}

  /** The job's devices changed and it trains again, re-planned, from its last committed step. */
  record Recovered(String jobId, JobReport.Recovery recovery) implements JobEvent {}

  /** The devices left cannot hold the model: the job waits for more to join. */
  record Paused(String jobId, String reason) implements JobEvent {}

  record Succeeded(JobReport report) implements JobEvent {}

  /** The job stopped; {@code reason} names the device or group at fault. */
  record Failed(String jobId, String reason, List<String> checkpoints) implements JobEvent {}
}
