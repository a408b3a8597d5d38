package org.dsparse.simulator;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dsparse.core.cli.UsageException;

/**
 * What DSparse is compared with beside the full update ({@code dsparse.simulation.baselines}). Each
 * runs in every setting and protocol right after the modes, with the same data, seed, batch, steps
 * and protocol as the DSparse run it is compared with.
 */
public enum Baseline {
  /**
   * The full update on only the devices whose budget holds its predicted peak: what a user without
   * dsparse can run. The data is partitioned among those devices, each stepping through as many steps
   * as the DSparse run, so the cluster learns from the share of the data they can hold.
   */
  FULL_WHERE_FITS,
  /**
   * Every device updates the same last layers, the longest suffix that fits the smallest budget, as
   * on-device fine-tuning does (TinyTL, MCUNetV3's sparse update): a DSparse job planned by the
   * planner's {@code uniform-tail} strategy.
   */
  UNIFORM_TAIL;

  /** The name configuration and results write: {@code full-where-fits}, {@code uniform-tail}. */
  public String key() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** The baselines listed at {@code where}, in order, each once. */
  static List<Baseline> parseAll(List<String> texts, String where) {
    List<Baseline> out = new ArrayList<>();
    for (String text : texts) {
      Baseline b = parse(text, where);
      if (out.contains(b)) {
        throw new UsageException(where + ": '" + text.trim() + "' is listed twice");
      }
      out.add(b);
    }
    return List.copyOf(out);
  }

  static Baseline parse(String text, String where) {
    for (Baseline b : values()) {
      if (b.key().equalsIgnoreCase(text.trim())) {
        return b;
      }
    }
    throw new UsageException(where + ": '" + text + "' is neither full-where-fits nor uniform-tail");
  }

  /**
   * The devices {@link #FULL_WHERE_FITS} runs on, in the experiment's order, and what to say of them.
   *
   * @param note which devices and why; when none fits, the reason it does not run
   */
  record Subset(List<String> devices, String note) {}

  /**
   * The devices whose budget holds the full update's predicted peak, as the planner checks it before a
   * full update (a lab device's budget is what its process found it had: the compared run reports it).
   *
   * @param devices every device's name, in the experiment's order
   * @param budgets each device's budget in bytes
   */
  static Subset whereFullFits(List<String> devices, Map<String, Long> budgets, long fullUpdatePeak) {
    List<String> fit = devices.stream().filter(d -> budgets.getOrDefault(d, 0L) >= fullUpdatePeak).toList();
    List<String> shortOf = devices.stream().filter(d -> !fit.contains(d)).toList();
    if (fit.isEmpty()) {
      String largest = devices.stream().max(java.util.Comparator.comparingLong((String d) -> budgets.getOrDefault(d, 0L)))
          .orElseThrow();
      return new Subset(List.of(), String.format(Locale.ROOT, "no device's budget holds the full update's predicted"
          + " %.1f MiB (the largest, %s, has %.1f MiB)", fullUpdatePeak / MIB, largest, budgets.getOrDefault(largest, 0L) / MIB));
    }
    return new Subset(fit, String.format(Locale.ROOT, "the full update on %s: the device%s whose budget holds its"
        + " predicted %.1f MiB%s", String.join(", ", fit), fit.size() == 1 ? "" : "s", fullUpdatePeak / MIB,
        shortOf.isEmpty() ? " (every device)" : "; without " + String.join(", ", shortOf) + " and "
            + (shortOf.size() == 1 ? "its" : "their") + " data"));
  }

  private static final double MIB = 1024.0 * 1024.0;
}
