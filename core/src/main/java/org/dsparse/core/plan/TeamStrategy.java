package org.dsparse.core.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The communication-aware plan. Nested updater sets (what suffix plans give graded budgets) make
 * every group overlap every other, so their AllReduces queue up and each pays a ring's latency.
 * This strategy instead splits the devices into teams of neighbouring budgets; every layer, or
 * channel slice of a heavy layer, goes to one team, so the teams' groups share no device and run
 * concurrently. Then:
 * <ol>
 *   <li>for every split of the budget-sorted devices into contiguous teams (all of them up to
 *       {@value #MAX_PARTITIONS}, else near-equal teams of every count), layers are placed from the
 *       most important down, each on the team where the plan's score rises most and whose members
 *       all stay within budget; a layer no team holds whole is cut into channel slices over the
 *       teams with the most room;</li>
 *   <li>the best few splits, and the suffix plan, are refined by local search (see {@link
 *       #refine}): devices leave or join groups, groups merge, and channel slices of heavy layers
 *       move between teams so that concurrent AllReduces finish together;</li>
 *   <li>the plan with the fewest uncovered layers, then the highest score, wins.</li>
 * </ol>
 * The score is quality minus the communication weight times aggregation time relative to
 * data-parallel (see {@link PlannerSettings}); the memory-only suffix plan is refined alongside, so
 * the result never scores below the baseline.
 *
 * <p>When every device fits the full update the plan is plain data-parallel, whatever the score
 * says: sparse updates are DSparse's answer to memory, and when memory does not force them the
 * accuracy target (that of data-parallel) is met only by data-parallel itself.
 */
final class TeamStrategy {
  static final int MAX_PARTITIONS = 512;
  private static final int REFINED = 6;
  private static final double EPSILON = 1e-12;

  private TeamStrategy() {}

  private record Candidate(long[] teams, Assignment assignment, Evaluation evaluation) {}

  private static final Comparator<Candidate> BEST_FIRST = Comparator
      .comparingInt((Candidate c) -> c.evaluation.uncovered)
      .thenComparing(c -> -c.evaluation.score);

  static Assignment assign(PlanningProblem p) {
    if (everyDeviceFitsFullUpdate(p)) {
      return dataParallel(p);
    }
    List<Candidate> candidates = new ArrayList<>();
    for (long[] teams : partitions(p)) {
      Assignment a = place(p, teams);
      candidates.add(new Candidate(teams, a, new Evaluation(p, a)));
    }
    candidates.sort(BEST_FIRST);
    List<Candidate> seeds = new ArrayList<>(candidates.subList(0, Math.min(REFINED, candidates.size())));
    // The memory-only suffix plan as a seed too: the search then never ends below the baseline.
    Assignment suffix = SuffixStrategy.assign(p);
    seeds.add(new Candidate(suffix.masks().stream().mapToLong(Long::longValue).toArray(), suffix,
        new Evaluation(p, suffix)));
    Candidate best = null;
    for (Candidate c : seeds) {
      Assignment a = refine(p, c.assignment, c.teams);
      Evaluation e = new Evaluation(p, a);
      if (e.betterThan(best == null ? null : best.evaluation)) {
        best = new Candidate(c.teams, a, e);
      }
    }
    return best.assignment;
  }

  private static boolean everyDeviceFitsFullUpdate(PlanningProblem p) {
    long full = p.model.fullUpdateBytes(p.settings.batch(), p.settings.optimizer());
    return p.devices.stream().allMatch(d -> d.budgetBytes() >= full);
  }

  private static Assignment dataParallel(PlanningProblem p) {
    Assignment a = new Assignment(p.layerCount());
    for (int l = 0; l < p.layerCount(); l++) {
      if (p.trainable[l]) {
        a.add(l, p.allDevices, p.units[l]);
      }
    }
    return a;
  }

  /** Contiguous splits of the devices sorted by budget (largest first, then name), fewest teams first. */
  static List<long[]> partitions(PlanningProblem p) {
    int n = p.deviceCount();
    int[] byBudget = IntStream.range(0, n).boxed()
        .sorted(Comparator.comparingLong((Integer d) -> -p.budget(d)).thenComparing(d -> d))
        .mapToInt(Integer::intValue).toArray();
    List<int[]> sizes = new ArrayList<>();
    if (n - 1 < 31 && (1 << (n - 1)) <= MAX_PARTITIONS) {
      for (int k = 1; k <= n; k++) {
        for (int cuts = 0; cuts < (1 << (n - 1)); cuts++) {
          if (Integer.bitCount(cuts) == k - 1) {
            sizes.add(sizesFromCuts(cuts, n));
          }
        }
      }
    } else {
      for (int k = 1; k <= n; k++) {
        int[] s = new int[k];
        for (int t = 0; t < k; t++) {
          s[t] = n / k + (t < n % k ? 1 : 0);
        }
        sizes.add(s);
      }
    }
    List<long[]> partitions = new ArrayList<>();
    for (int[] s : sizes) {
      long[] teams = new long[s.length];
      int next = 0;
      for (int t = 0; t < s.length; t++) {
        for (int i = 0; i < s[t]; i++) {
          teams[t] |= 1L << byBudget[next++];
        }
      }
      partitions.add(teams);
    }
    return partitions;
  }

  private static int[] sizesFromCuts(int cuts, int n) {
    int[] s = new int[Integer.bitCount(cuts) + 1];
    int team = 0;
    for (int i = 0; i < n; i++) {
      s[team]++;
      if (i < n - 1 && (cuts & (1 << i)) != 0) {
        team++;
      }
    }
    return s;
  }

  /** Step 1: layers by importance onto the team that raises the score most. */
  private static Assignment place(PlanningProblem p, long[] teams) {
    Assignment a = new Assignment(p.layerCount());
    for (int l : p.importance.order()) {
      if (!p.trainable[l]) {
        continue;
      }
      Assignment best = null;
      double bestScore = Double.NEGATIVE_INFINITY;
      for (long team : teams) {
        Assignment c = a.copy();
        c.add(l, team, p.units[l]);
        if (!Evaluation.fits(p, c, team)) {
          continue;
        }
        double score = new Evaluation(p, c).score;
        if (score > bestScore + EPSILON) {
          best = c;
          bestScore = score;
        }
      }
      if (best == null && p.splittable(l)) {
        best = sliced(p, a, l, teams);
      }
      if (best != null) {
        a = best;
      }
    }
    return a;
  }

  /** {@code layer} cut into the largest slices that fit, teams with the most room first; null if they do not cover it. */
  private static Assignment sliced(PlanningProblem p, Assignment a, int layer, long[] teams) {
    Long[] byRoom = java.util.Arrays.stream(teams).boxed()
        .sorted(Comparator.comparingLong((Long t) -> -minBudget(p, t))).toArray(Long[]::new);
    Assignment c = a.copy();
    int remaining = p.units[layer];
    for (long team : byRoom) {
      if (remaining == 0) {
        break;
      }
      int u = largestFitting(p, c, layer, team, p.minUnits[layer], remaining);
      if (u < remaining) {
        u = Math.min(u, remaining - p.minUnits[layer]);
      }
      if (u >= p.minUnits[layer]) {
        c.add(layer, team, u);
        remaining -= u;
      }
    }
    return remaining == 0 ? c : null;
  }

  /** The most units of {@code layer} in [lo, hi] {@code team} can add within budget; lo - 1 if none. */
  private static int largestFitting(PlanningProblem p, Assignment a, int layer, long team, int lo, int hi) {
    int fits = lo - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      Assignment c = a.copy();
      c.add(layer, team, mid);
      if (Evaluation.fits(p, c, team)) {
        fits = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return fits;
  }

  private static long minBudget(PlanningProblem p, long team) {
    long min = Long.MAX_VALUE;
    for (int d = 0; d < p.deviceCount(); d++) {
      if ((team & (1L << d)) != 0) {
        min = Math.min(min, p.budget(d));
      }
    }
    return min;
  }

  /**
   * Step 2: local search from a placement. Each round tries every move below and takes the one
   * that raises the score most, until none does:
   * <ul>
   *   <li>a device leaves a group (less aggregation, less data share);</li>
   *   <li>a device joins a group (spare memory buys data share);</li>
   *   <li>a group's slices go to another group's updaters (one collective fewer);</li>
   *   <li>a slice moves, whole or by the share that makes both AllReduces finish together, to a
   *       team or group with no device in common (channel-level balancing);</li>
   *   <li>one slice gains a device, or moves whole to an overlapping group (a device with spare
   *       memory takes part in a single layer).</li>
   * </ul>
   */
  static Assignment refine(PlanningProblem p, Assignment start, long[] teams) {
    Assignment a = start;
    for (int round = 0; round < 4 * p.layerCount() * p.deviceCount(); round++) {
      Evaluation e = new Evaluation(p, a);
      Best best = new Best(e.score);
      List<Long> masks = e.masks;
      for (long g : masks) {
        for (int d = 0; d < p.deviceCount(); d++) {
          long bit = 1L << d;
          if ((g & bit) != 0 && g != bit) {
            best.offer(p, a.reassigned(g, g & ~bit), 0);
          } else if ((g & bit) == 0) {
            best.offer(p, a.reassigned(g, g | bit), bit);
          }
        }
        for (long h : masks) {
          if (h != g) {
            best.offer(p, a.reassigned(g, h), h & ~g);
          }
        }
      }
      java.util.TreeSet<Long> targets = new java.util.TreeSet<>(PlanningProblem::compareMasks);
      targets.addAll(masks);
      for (long t : teams) {
        targets.add(t);
      }
      CommunicationModel net = p.settings.communication();
      for (int g = 0; g < masks.size(); g++) {
        long from = masks.get(g);
        for (int l = 0; l < p.layerCount(); l++) {
          Integer held = a.slices(l).get(from);
          if (held == null) {
            continue;
          }
          for (long to : targets) {
            if ((to & from) != 0) {
              continue;
            }
            double slopes = slope(net, Long.bitCount(from)) + slope(net, Long.bitCount(to));
            double shift = slopes == 0 ? 0 : (e.collectiveSeconds[g] - seconds(e, to)) / slopes;
            int equalising = (int) Math.round(shift * p.units[l] / p.layerBytes[l]);
            best.offer(p, moved(p, a, l, from, to, held, equalising), to);
            if (equalising < held) {
              best.offer(p, moved(p, a, l, from, to, held, held), to);
            }
          }
          for (long to : targets) {
            if ((to & from) != 0 && to != from) {
              best.offer(p, rekeyed(a, l, from, to, held), to & ~from);
            }
          }
          for (int d = 0; d < p.deviceCount(); d++) {
            long bit = 1L << d;
            if ((from & bit) == 0) {
              best.offer(p, rekeyed(a, l, from, from | bit, held), bit);
            }
          }
        }
      }
      if (best.assignment == null) {
        return a;
      }
      a = best.assignment;
    }
    return a;
  }

  private static Assignment rekeyed(Assignment a, int layer, long from, long to, int held) {
    Assignment c = a.copy();
    c.move(layer, from, to, held);
    return c;
  }

  /** The highest-scoring feasible move offered so far, if it beats the current plan. */
  private static final class Best {
    double score;
    Assignment assignment;

    Best(double current) {
      score = current + EPSILON;
    }

    /** {@code gaining}: the devices whose memory the move increases. */
    void offer(PlanningProblem p, Assignment candidate, long gaining) {
      if (candidate == null || (gaining != 0 && !Evaluation.fits(p, candidate, gaining))) {
        return;
      }
      double s = new Evaluation(p, candidate).score;
      if (s > score) {
        score = s;
        assignment = candidate;
      }
    }
  }

  /**
   * {@code a} with up to {@code wanted} of the {@code held} units of {@code layer} moved from
   * {@code from} to the disjoint team {@code to}, as many as fit its members and leave no slice
   * below the minimum; null if none can move.
   */
  private static Assignment moved(PlanningProblem p, Assignment a, int layer, long from, long to,
      int held, int wanted) {
    int min = p.minUnits[layer];
    if (wanted < min) {
      return null;
    }
    wanted = Math.min(wanted, held);
    if (held - wanted < min) {
      wanted = held;
    }
    // The teams share no device, so only the receiving team's memory changes.
    int u = largestFitting(p, a, layer, to, min, wanted);
    if (u < held && held - u < min) {
      u = held - min;
    }
    if (u < min) {
      return null;
    }
    Assignment c = a.copy();
    c.move(layer, from, to, u);
    return c;
  }

  private static double seconds(Evaluation e, long mask) {
    int g = e.masks.indexOf(mask);
    return g < 0 ? 0 : e.collectiveSeconds[g];
  }

  /** Seconds per byte a team's AllReduce adds; zero for a single member, which only refreshes. */
  private static double slope(CommunicationModel net, int members) {
    return members < 2 ? 0 : 2.0 * (members - 1) / (members * net.bytesPerSecond());
  }
}
