package org.dsparse.actors.step;

import java.io.IOException;
import java.util.Optional;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.JobSpec;

/**
 * A way of training a job across devices: how it is planned on the coordinator, and what each
 * device builds to run its steps. Chosen once per job from its settings
 * ({@code org.dsparse.actors.mode.TrainingModes}); nothing outside a mode's package asks which mode a
 * job is in. Both methods run on the DJL thread.
 *
 * <p>A new mode implements this in a package of its own under {@code org.dsparse.actors.mode}, with
 * its planning, its {@link ModeRuntime} and its {@link DeviceStep} (built on {@link StageRunner}),
 * and adds its case to {@code TrainingModes}.
 */
public interface TrainingMode {
  /** The job's plan for its devices as they are now (the coordinator's side). */
  PlannedJob plan(Planning planning) throws IOException;

  /** What one device of the job trains with, from where the job stands (the device's side). */
  ModeRuntime prepare(Preparation preparation) throws IOException;

  /** Whether the job's steps cut their backward to overlap it with gradient AllReduces. */
  default boolean overlaps(JobSpec spec) {
    return spec.overlaps();
  }

  /** This device's role in the job beyond its updated layers, for its log (e.g. its tile), or "". */
  default String role(Preparation preparation) {
    return "";
  }

  /** A setting of the job this mode cannot run with, or empty. */
  default Optional<Refusal> check(JobSpec spec) {
    return Optional.empty();
  }

  /**
   * A setting a mode refuses.
   *
   * @param key the setting's key under the job's configuration
   * @param value the value given
   * @param expected what the mode accepts there, and why
   */
  record Refusal(String key, String value, String expected) {}
}
