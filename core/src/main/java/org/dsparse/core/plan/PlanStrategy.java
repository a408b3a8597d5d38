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
  COMMUNICATION_AWARE,
  /**
   * Plans of one shape only, scored like the communication-aware ones: the device with the largest
   * budget updates every layer, every device that can afford the last k layers updates them too
   * (one group, cheap in memory because activations sit in the first layers), and the rest update
   * the classifier. The best k wins. Suits fine-tuning a pre-trained model, whose learning happens
   * mostly in the parameter-heavy last layers, especially with periodic model averaging.
   */
  SHARED_TAIL,
  /**
   * The on-device fine-tuning baseline (TinyTL, MCUNetV3's sparse update): every device updates the
   * same last layers, the longest suffix that fits the smallest budget, in one process group of all
   * devices; the layers below are frozen on every device. The one strategy whose plans may leave
   * layers frozen by design (see {@link #coversEveryLayer}).
   */
  UNIFORM_TAIL;

  /**
   * Whether the strategy means every layer to be updated by some device, so that a layer its plan
   * leaves frozen is one no budget could hold; a uniform tail freezes the layers below it on purpose.
   */
  public boolean coversEveryLayer() {
    return this != UNIFORM_TAIL;
  }

  /** The name configuration writes: {@code shared-tail} for {@link #SHARED_TAIL}. */
  public String key() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * Parses {@code suffix}, {@code communication-aware}, {@code shared-tail} or {@code uniform-tail},
   * case-insensitively.
   */
  public static PlanStrategy parse(String text) {
    String key = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (PlanStrategy s : values()) {
      if (s.name().equals(key)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "unknown planner strategy '" + text + "': expected suffix, communication-aware, shared-tail or uniform-tail");
  }
}
