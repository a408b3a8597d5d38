package org.dsparse.simulator;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.dsparse.actors.job.JobReport;

/**
 * A baseline's run beside one setting's modes: its report and the devices it ran on, or why it did
 * not run (no device fits the full update, the planner refused, the job failed).
 *
 * @param report empty when it did not run
 * @param devices the devices it ran on, in the experiment's order; none when it did not run
 * @param note how it ran (which devices, or that it is another run's report), or why it did not
 */
public record BaselineRun(Baseline baseline, Optional<JobReport> report, List<String> devices, String note) {
  public BaselineRun {
    devices = List.copyOf(devices);
  }

  static BaselineRun ran(Baseline baseline, JobReport report, List<String> devices, String note) {
    return new BaselineRun(baseline, Optional.of(report), devices, note);
  }

  static BaselineRun notRun(Baseline baseline, String reason) {
    return new BaselineRun(baseline, Optional.empty(), List.of(), reason);
  }

  public boolean ran() {
    return report.isPresent();
  }

  /** The run of median mean step time among repeats that ran (as the modes' timing runs report); else the first. */
  static BaselineRun medianOf(List<BaselineRun> repeats) {
    List<BaselineRun> ran = repeats.stream().filter(BaselineRun::ran)
        .sorted(Comparator.comparingDouble(r -> r.report().orElseThrow().stepMillis())).toList();
    return ran.isEmpty() ? repeats.get(0) : ran.get((ran.size() - 1) / 2);
  }
}
