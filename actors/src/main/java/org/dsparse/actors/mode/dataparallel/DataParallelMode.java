package org.dsparse.actors.mode.dataparallel;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Planning;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.core.plan.DeviceBudget;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.Planner;

/**
 * The data-parallel modes: {@link #FULL}, every device updates every layer (the baseline), and
 * {@link #DSPARSE}, each device updates the slices that fit its memory, a slice shared by several
 * devices averaged by AllReduce in its group, one with a single updater refreshed from it. Both run
 * the same {@link DataParallelStep}; they differ in their plan and their learning rates.
 */
public enum DataParallelMode implements TrainingMode {
  FULL {
    @Override
    public PlannedJob plan(Planning planning) {
      return DataParallelPlanning.fullUpdate(planning);
    }

    @Override
    Map<Integer, Double> learningRateScales(Preparation p) {
      // Every layer has every device for updater: the plain rate.
      return Map.of();
    }
  },
  DSPARSE {
    @Override
    public PlannedJob plan(Planning p) {
      List<DeviceBudget> budgets = p.devices().stream().map(d -> new DeviceBudget(d.name(), d.budgetBytes())).toList();
      Plan plan = Planner.plan(p.memory(), budgets, DataParallelPlanning.importance(p), DataParallelPlanning.settings(p));
      return DataParallelPlanning.withOwnMicroBatches(p, plan, DataParallelPlanning.fromPlan(p.spec(), plan,
          p.model()));
    }

    @Override
    Map<Integer, Double> learningRateScales(Preparation p) {
      return Plans.learningRateScales(p.spec(), p.groups(), p.device(), p.devices().size(), Set.of());
    }
  };

  /** The learning-rate multipliers of the layers the device updates (see {@link Plans#learningRateScales}). */
  abstract Map<Integer, Double> learningRateScales(Preparation p);

  @Override
  public ModeRuntime prepare(Preparation p) throws IOException {
    return DataParallelRuntime.prepare(p, new int[] {p.rank()}, learningRateScales(p), true, Backward.LOCAL);
  }
}
