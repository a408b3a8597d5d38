package org.dsparse.actors.job;

import java.util.Locale;
import java.util.function.Consumer;

/** Prints a job's progress: the plan, then a line every few seconds and at each epoch end. */
public final class ProgressPrinter implements Consumer<JobEvent> {
  private static final long INTERVAL_NANOS = 5_000_000_000L;
  private final Consumer<String> out;
  private long lastPrinted;

  public ProgressPrinter(Consumer<String> out) {
    this.out = out;
  }

  @Override
  public void accept(JobEvent event) {
    if (event instanceof JobEvent.Planned planned) {
      out.accept("plan of " + planned.jobId() + ":\n" + planned.description());
    } else if (event instanceof JobEvent.StepReported step) {
      long now = System.nanoTime();
      if (now - lastPrinted >= INTERVAL_NANOS || step.step() == step.totalSteps()) {
        lastPrinted = now;
        out.accept(String.format(Locale.ROOT, "  %s epoch %d step %d/%d loss %.4f (%.0f ms/step, ETA %s)",
            step.jobId(), step.epoch() + 1, step.step(), step.totalSteps(), step.loss(), step.stepMillis(),
            eta(step.etaSeconds())));
      }
    } else if (event instanceof JobEvent.EpochEvaluated epoch) {
      out.accept(String.format(Locale.ROOT, "  %s epoch %d: test accuracy %.2f%%, mean loss %.4f%s",
          epoch.jobId(), epoch.epoch() + 1, 100 * epoch.testAccuracy(), epoch.meanLoss(),
          epoch.checkpoint() == null ? "" : ", checkpoint " + epoch.checkpoint()));
    } else if (event instanceof JobEvent.Recovered recovered) {
      JobReport.Recovery r = recovered.recovery();
      out.accept(String.format(Locale.ROOT, "  %s: %s during %s; training again after %.1f s from step %d "
          + "(%d step%s redone) on %s", recovered.jobId(), r.cause(), r.phase(),
          (r.trainingAgainAtMillis() - r.detectedAtMillis()) / 1e3, r.resumedFromStep(), r.stepsRedone(),
          r.stepsRedone() == 1 ? "" : "s", r.devices()));
    } else if (event instanceof JobEvent.Joining joining) {
      out.accept("  " + joining.jobId() + ": device " + joining.device() + " joined; it is adopted at the next "
          + "committed step");
    } else if (event instanceof JobEvent.Paused paused) {
      out.accept("job " + paused.jobId() + " " + paused.reason());
    } else if (event instanceof JobEvent.Failed failed) {
      out.accept("job " + failed.jobId() + " FAILED: " + failed.reason()
          + (failed.checkpoints().isEmpty() ? "" : "; checkpoints kept: " + failed.checkpoints()));
    }
  }

  private static String eta(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }
}
