package org.dsparse.core.plan;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.dsparse.core.memory.MemoryModel;

/** Plans which device updates which layers; validates the input, then runs the chosen strategy. */
public final class Planner {
  private Planner() {}

  /**
   * @throws IllegalArgumentException on no devices, duplicate device names, importance for a
   *     different number of layers, or a device whose budget is below the cheapest useful update
   *     (naming the device, the bytes needed and the bytes given)
   */
  public static Plan plan(MemoryModel model, List<DeviceBudget> budgets, Importance importance,
      PlannerSettings settings) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(importance, "importance");
    Objects.requireNonNull(settings, "settings");
    if (budgets.isEmpty()) {
      throw new IllegalArgumentException("the planner needs at least one device");
    }
    if (budgets.size() > PlanningProblem.MAX_DEVICES) {
      throw new IllegalArgumentException("the planner handles up to " + PlanningProblem.MAX_DEVICES
          + " devices, got " + budgets.size());
    }
    Set<String> names = new HashSet<>();
    for (DeviceBudget b : budgets) {
      if (!names.add(b.device())) {
        throw new IllegalArgumentException("device " + b.device() + " is listed twice");
      }
    }
    if (importance.layerCount() != model.layers().size()) {
      throw new IllegalArgumentException("importance is given for " + importance.layerCount()
          + " layers, the model has " + model.layers().size());
    }
    PlanningProblem problem = new PlanningProblem(model, budgets, importance, settings);
    requireUsefulBudgets(problem);
    Assignment assignment = switch (settings.strategy()) {
      case SUFFIX -> SuffixStrategy.assign(problem);
      case COMMUNICATION_AWARE -> TeamStrategy.assign(problem);
    };
    return Plan.from(problem, assignment);
  }

  private static void requireUsefulBudgets(PlanningProblem p) {
    int cheapest = 0;
    long cheapestBytes = Long.MAX_VALUE;
    for (int l = 0; l < p.layerCount(); l++) {
      if (!p.trainable[l]) {
        continue;
      }
      long bytes = p.cheapestBytes(l);
      if (bytes < cheapestBytes) {
        cheapestBytes = bytes;
        cheapest = l;
      }
    }
    for (DeviceBudget b : p.devices) {
      if (b.budgetBytes() < cheapestBytes) {
        String slice = p.splittable(cheapest)
            ? String.format(Locale.ROOT, "%d of its %d channels", p.minUnits[cheapest], p.units[cheapest])
            : "whole";
        throw new IllegalArgumentException("device " + b.device() + ": budget " + b.budgetBytes()
            + " bytes is below the cheapest useful update, layer " + cheapest + " ("
            + p.layerName(cheapest) + ", " + slice + "), which needs " + cheapestBytes + " bytes at batch "
            + p.settings.batch());
      }
    }
  }
}
