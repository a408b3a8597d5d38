package org.dsparse.core.plan;

import java.util.Locale;

/** How the planner chooses updaters. */
public enum PlanStrategy {
  /**
   * The DSparse paper's memory-only rule, kept as the baseline: every device updates the longest
   * suffix of layers that fits its budget; layers no suffix reaches go to the device with the most
   * room left.
   */
  SUFFIX,
  /**
   * Splits the devices into teams of similar budget whose process groups share no device and so
   * run concurrently, places layers (and channel slices of heavy layers) on teams by importance,
   * refines by local search, and keeps the plan with the best quality minus communication weight
   * times aggregation time relative to data-parallel.
   */
  COMMUNICATION_AWARE;

  /** Parses {@code suffix} or {@code communication-aware}, case-insensitively. */
  public static PlanStrategy parse(String text) {
    String key = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (PlanStrategy s : values()) {
      if (s.name().equals(key)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "unknown planner strategy '" + text + "': expected suffix or communication-aware");
  }
}
