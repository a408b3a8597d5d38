package org.dsparse.core.plan;

import java.util.List;

/**
 * The layers (or channel slices) one updater set aggregates each step.
 *
 * @param updaters the devices that update these slices
 * @param kind AllReduce among two or more updaters, Broadcast from a single owner
 * @param slices in model order
 * @param bytes the payload: parameters and buffers of all slices
 * @param collectiveSeconds predicted time of the group's per-step AllReduce (0 for Broadcast)
 * @param refreshSeconds predicted time of sending the slices to the devices outside the group,
 *     once per refresh interval
 */
public record ProcessGroupSpec(
    UpdaterSet updaters,
    Kind kind,
    List<LayerSlice> slices,
    long bytes,
    double collectiveSeconds,
    double refreshSeconds) {

  /** How the group's updates reach its members. */
  public enum Kind { ALL_REDUCE, BROADCAST }

  public ProcessGroupSpec {
    slices = List.copyOf(slices);
    Kind expected = updaters.size() >= 2 ? Kind.ALL_REDUCE : Kind.BROADCAST;
    if (kind != expected) {
      throw new IllegalArgumentException("group " + updaters + " of " + updaters.size()
          + " device(s) must be " + expected + ", not " + kind);
    }
  }

  /** The device that sends the group's weights to non-updaters: its first member. */
  public String owner() {
    return updaters.devices().get(0);
  }
}
