package org.dsparse.actors.step;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.dsparse.protocol.job.Refresh;

/** What a device does at each step of its job, as its {@link TrainingMode} builds it ({@link ModeRuntime#pipeline}). */
public interface DeviceStep {
  /**
   * Runs step {@code step} of epoch {@code epoch}; {@code average}: average (or assemble) weights on
   * this step; {@code refresh}: send weights to the devices that do not update them, compressed or
   * exactly;
   * {@code evaluated}: the job evaluates the model after this step; {@code cuts}: where to cut the
   * backward (empty: no overlap).
   */
  CompletionStage<StepResult> run(int epoch, long step, boolean average, Refresh refresh, boolean evaluated,
      List<Integer> cuts);

  /** Fails every stage not yet started: the job abandoned its step. */
  void cancel();

  /** Groups that send their gradients uncompressed though the job compresses, and why. */
  default Map<String, String> denseGroups() {
    return Map.of();
  }
}
