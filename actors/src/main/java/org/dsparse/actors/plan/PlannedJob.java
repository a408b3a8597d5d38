package org.dsparse.actors.plan;

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
 * @param allReduceBytesPerLayer by device: each layer's AllReduce payload per step (gradients and
 *     BatchNorm statistics), from which overlap cuts are chosen
 */
public record PlannedJob(Map<String, Assignment> assignments, List<GroupPlan> groups,
    List<String> layerNames, long fullUpdatePeakBytes, String description, Map<String, long[]> allReduceBytesPerLayer) {

  public PlannedJob {
    allReduceBytesPerLayer = Map.copyOf(allReduceBytesPerLayer);
  }

  /** A plan whose AllReduce bytes are not counted yet. */
  public PlannedJob(Map<String, Assignment> assignments, List<GroupPlan> groups, List<String> layerNames,
      long fullUpdatePeakBytes, String description) {
    this(assignments, groups, layerNames, fullUpdatePeakBytes, description, Map.of());
  }

  /**
   * The same plan with its groups' names prefixed by {@code prefix} (a re-plan's, e.g. {@code r2.}):
   * their process groups and layer shards are then new ones, apart from those of earlier plans still
   * winding down.
   */
  public PlannedJob prefixed(String jobId, String prefix) {
    if (prefix.isEmpty()) {
      return this;
    }
    List<GroupPlan> renamed = groups.stream().map(g -> {
      String id = prefix + g.groupId();
      return new GroupPlan(id, g.slices(), g.updaters(), g.owner(), g.weightBytes(), jobId + "." + id, g.shardHome());
    }).toList();
    Map<String, Assignment> retiled = new java.util.LinkedHashMap<>();
    assignments.forEach((device, a) -> retiled.put(device, a.prefixed(prefix)));
    return new PlannedJob(retiled, renamed, layerNames, fullUpdatePeakBytes, description, allReduceBytesPerLayer);
  }

  /** The same plan with other groups (e.g. led from their shard's home) and a longer description. */
  public PlannedJob withGroups(List<GroupPlan> otherGroups, String moreDescription) {
    return new PlannedJob(assignments, otherGroups, layerNames, fullUpdatePeakBytes, description + moreDescription,
        allReduceBytesPerLayer);
  }
}
