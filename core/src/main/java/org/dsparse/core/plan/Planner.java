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
    return plan(model, budgets, importance, settings, 0);
  }

  /**
   * A plan of the layers from {@code plannedFrom} on: the layers below are updated outside it (a
   * tile group trains them), so no device of the plan updates them and every device runs them as
   * its frozen prefix, which the memory model counts.
   */
  public static Plan plan(MemoryModel model, List<DeviceBudget> budgets, Importance importance,
      PlannerSettings settings, int plannedFrom) {
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
    if (plannedFrom < 0 || plannedFrom >= model.layers().size()) {
      throw new IllegalArgumentException("the plan starts at layer " + plannedFrom + ", the model has "
          + model.layers().size());
    }
    PlanningProblem problem = new PlanningProblem(model, budgets, importance, settings, plannedFrom);
    if (settings.strategy() == PlanStrategy.UNIFORM_TAIL) {
      // Whole layers, the same on every device: its own refusal names the smallest device and the last
      // layer, where the check below would name a channel slice no uniform tail takes. No device is idle.
      UniformTailStrategy.Tail tail = UniformTailStrategy.assign(problem);
      return Plan.from(problem, tail.assignment(), l -> UniformTailStrategy.frozenReason(problem, tail));
    }
    requireUsefulBudgets(problem);
    Assignment assignment = switch (settings.strategy()) {
      case SUFFIX -> SuffixStrategy.assign(problem);
      case COMMUNICATION_AWARE -> TeamStrategy.assign(problem);
      case SHARED_TAIL -> sharedTail(problem);
      case UNIFORM_TAIL -> throw new IllegalStateException("planned above");
    };
    return Plan.from(problem, employIdleDevices(problem, assignment));
  }

  /**
   * Plans of one simple shape the search may not reach, for tail length {@code k}: the device with
   * the largest budget updates every layer before the tail (the body), every device that can afford
   * the last {@code k} layers updates them, and the others update the classifier (the last layer)
   * only. Parameters sit in the last layers and activations in the first, so the shared tail is
   * cheap in memory and carries most of what fine-tuning learns, while at most three groups form.
   *
   * @param bodyOwnerInTail whether the body's owner also updates the tail; without it, it saves the
   *     tail's gradients and optimizer state (the tail holds most parameters) and receives the tail
   *     by refresh, while the tail learns from the other devices' data
   * @return the candidate for every k from 1 to the layer count (index k - 1), or nothing when no
   *     device affords the full update
   */
  static List<Assignment> sharedTailCandidates(PlanningProblem p, boolean bodyOwnerInTail) {
    int n = p.layerCount();
    int devices = p.deviceCount();
    int big = 0;
    for (int d = 1; d < devices; d++) {
      if (p.budget(d) > p.budget(big)) {
        big = d;
      }
    }
    double[] all = new double[n];
    java.util.Arrays.fill(all, 1.0);
    if (p.peakBytes(all) > p.budget(big)) {
      return List.of();
    }
    int last = n - 1;
    while (last >= 0 && !p.trainable[last]) {
      last--;
    }
    if (last < 0) {
      return List.of();
    }
    List<Assignment> candidates = new java.util.ArrayList<>();
    for (int k = 1; k <= n; k++) {
      double[] tail = new double[n];
      for (int l = n - k; l < n; l++) {
        tail[l] = 1.0;
      }
      double[] classifier = new double[n];
      classifier[last] = 1.0;
      long tailMask = bodyOwnerInTail ? 1L << big : 0;
      long classifierMask = 1L << big;
      for (int d = 0; d < devices; d++) {
        if (d == big) {
          continue;
        }
        if (p.peakBytes(tail) <= p.budget(d)) {
          tailMask |= 1L << d;
        } else if (p.peakBytes(classifier) <= p.budget(d)) {
          classifierMask |= 1L << d;
        }
      }
      if (tailMask == 0) {
        tailMask = 1L << big; // nobody else affords this tail: its owner keeps it
      }
      Assignment a = new Assignment(n);
      for (int l = 0; l < n; l++) {
        if (!p.trainable[l]) {
          continue;
        }
        long mask = l < n - k ? 1L << big : tailMask;
        if (l == last) {
          mask |= classifierMask;
        }
        a.add(l, mask, p.units[l]);
      }
      candidates.add(a);
    }
    return candidates;
  }

  /**
   * The best shared-tail plan, of the configured tail length if one is set. When no device holds
   * the full update, or every device does (then the plan is data-parallel, as with every strategy),
   * the communication-aware search decides.
   *
   * <p>With periodic averaging the body's owner leaves the tail to the others. Every other updater
   * of the tail trains it against the same body, refreshed at the same steps, so their tails
   * average cleanly; the owner's tail would follow a body the others have not received yet, and
   * averaging would mix tails fitted to different bodies. Measured on {@code bench/dsparse} (tails
   * of 3 and 4 layers, averaging every 10 steps), the owner in the tail cost 0.4-0.5 points of
   * accuracy, beyond what the score's data share can tell. With gradients averaged every step the
   * score chooses between both shapes.
   */
  private static Assignment sharedTail(PlanningProblem p) {
    List<Assignment> withOwner = sharedTailCandidates(p, true);
    List<Assignment> withoutOwner = sharedTailCandidates(p, false);
    double[] all = new double[p.layerCount()];
    java.util.Arrays.fill(all, 1.0);
    boolean everyDeviceFitsAll = java.util.stream.IntStream.range(0, p.deviceCount())
        .allMatch(d -> p.peakBytes(all) <= p.budget(d));
    if (withOwner.isEmpty() || everyDeviceFitsAll) {
      return TeamStrategy.assign(p);
    }
    int pinned = p.settings.sharedTailLayers();
    if (pinned > withOwner.size()) {
      throw new IllegalArgumentException("shared tail of " + pinned + " layers, the model has " + withOwner.size());
    }
    List<Assignment> candidates = new java.util.ArrayList<>();
    List<List<Assignment>> shapes = p.settings.averagingInterval() > 1 ? List.of(withoutOwner)
        : List.of(withOwner, withoutOwner);
    for (List<Assignment> shape : shapes) {
      candidates.addAll(pinned > 0 ? List.of(shape.get(pinned - 1)) : shape);
    }
    return bestOf(p, candidates.get(0), candidates.subList(1, candidates.size()));
  }

  /** The best-scoring plan that fits every budget, {@code current} unless a candidate beats it. */
  static Assignment bestOf(PlanningProblem p, Assignment current, List<Assignment> candidates) {
    Assignment best = current;
    Evaluation bestEvaluation = new Evaluation(p, current);
    for (Assignment candidate : candidates) {
      Evaluation e = new Evaluation(p, candidate);
      if (e.fits && (!bestEvaluation.fits || e.betterThan(bestEvaluation))) {
        best = candidate;
        bestEvaluation = e;
      }
    }
    return best;
  }

  /**
   * Every device trains something: its data would be wasted otherwise. A device a strategy left
   * idle joins the existing group (all its layers) that scores best and fits its budget; failing
   * that, it takes on the single whole layer that scores best and fits.
   */
  static Assignment employIdleDevices(PlanningProblem p, Assignment assignment) {
    Assignment current = assignment;
    for (int d = 0; d < p.deviceCount(); d++) {
      long bit = 1L << d;
      boolean idle = current.masks().stream().noneMatch(m -> (m & bit) != 0);
      if (!idle) {
        continue;
      }
      Assignment best = null;
      double bestScore = Double.NEGATIVE_INFINITY;
      for (long mask : current.masks()) {
        Assignment joined = current.reassigned(mask, mask | bit);
        double score = new Evaluation(p, joined).score;
        if (Evaluation.fits(p, joined, bit) && score > bestScore) {
          best = joined;
          bestScore = score;
        }
      }
      if (best == null) {
        for (int l = 0; l < p.layerCount(); l++) {
          if (!p.trainable[l] || current.slices(l).size() != 1) {
            continue;
          }
          var slice = current.slices(l).entrySet().iterator().next();
          Assignment joined = current.copy();
          joined.move(l, slice.getKey(), slice.getKey() | bit, slice.getValue());
          double score = new Evaluation(p, joined).score;
          if (Evaluation.fits(p, joined, bit) && score > bestScore) {
            best = joined;
            bestScore = score;
          }
        }
      }
      if (best != null) {
        current = best;
      }
    }
    return current;
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
