package org.dsparse.actors.job;

import java.util.List;
import java.util.Map;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.GroupPlan;

/**
 * A job's plan in the form devices receive it.
 *
 * @param assignments per device name
 * @param groups the aggregation groups
 * @param layerNames the model's layers in order
 * @param fullUpdatePeakBytes predicted peak of updating every layer (the baseline's per-device cost)
 * @param description a readable table of the plan
 * @param overlapCuts layer indices at which every device cuts its backward so that each segment's
 *     gradients are AllReduced while the backward goes on (empty: no overlap)
 */
public record PlannedJob(Map<String, Assignment> assignments, List<GroupPlan> groups,
    List<String> layerNames, long fullUpdatePeakBytes, String description, List<Integer> overlapCuts) {

  public PlannedJob {
    overlapCuts = List.copyOf(overlapCuts);
  }

  /** A plan without overlap. */
  public PlannedJob(Map<String, Assignment> assignments, List<GroupPlan> groups, List<String> layerNames,
      long fullUpdatePeakBytes, String description) {
    this(assignments, groups, layerNames, fullUpdatePeakBytes, description, List.of());
  }

  /** The same plan with other groups (e.g. led from their shard's home) and a longer description. */
  public PlannedJob withGroups(List<GroupPlan> otherGroups, String moreDescription) {
    return new PlannedJob(assignments, otherGroups, layerNames, fullUpdatePeakBytes, description + moreDescription,
        overlapCuts);
  }
}
