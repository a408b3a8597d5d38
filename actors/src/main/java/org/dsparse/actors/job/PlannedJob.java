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
 */
public record PlannedJob(Map<String, Assignment> assignments, List<GroupPlan> groups,
    List<String> layerNames, long fullUpdatePeakBytes, String description) {}
