package org.dsparse.actors.job;

import java.util.List;

/** What a {@link JobCoordinator} tells whoever submitted the job (on the same node). */
public sealed interface JobEvent {

  /** The plan the devices were given. */
  record Planned(String jobId, String description) implements JobEvent {}

  /**
   * One synchronous step is done on every device.
   *
   * @param loss mean of the devices' batch losses
   * @param stepMillis wall time of the step, from asking the devices to the last answer
   * @param etaSeconds expected time to the end of the job at the current pace
   */
  record StepReported(String jobId, int epoch, long step, long totalSteps, double loss, double stepMillis,
      double etaSeconds) implements JobEvent {}

  /** An epoch ended: evaluation on the test set after a full weight refresh. */
  record EpochEvaluated(String jobId, int epoch, double testAccuracy, double meanLoss, String checkpoint)
      implements JobEvent {}

  /** A device joined the cluster while the job runs: it is adopted at the next committed step. */
  record Joining(String jobId, String device) implements JobEvent {}

  /** The job's devices changed and it trains again, re-planned, from its last committed step. */
  record Recovered(String jobId, JobReport.Recovery recovery) implements JobEvent {}

  /** The devices left cannot hold the model: the job waits for more to join. */
  record Paused(String jobId, String reason) implements JobEvent {}

  record Succeeded(JobReport report) implements JobEvent {}

  /** The job stopped; {@code reason} names the device or group at fault. */
  record Failed(String jobId, String reason, List<String> checkpoints) implements JobEvent {}
}
