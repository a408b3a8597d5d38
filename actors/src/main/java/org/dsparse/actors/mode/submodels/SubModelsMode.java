package org.dsparse.actors.mode.submodels;

import java.io.IOException;
import java.util.Optional;
import org.dsparse.actors.plan.ClassPartitions;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Planning;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.protocol.job.JobSpec;

/**
 * Heterogeneous sub-models (Chen and Qin 2020): each device trains a narrower model of the filters
 * most relevant to its own classes, nothing sent while it trains; on averaging steps the sub-models
 * are assembled into the global model on every device ({@link SubModelStep}).
 */
public final class SubModelsMode implements TrainingMode {
  public static final SubModelsMode INSTANCE = new SubModelsMode();

  private SubModelsMode() {}

  @Override
  public PlannedJob plan(Planning p) throws IOException {
    return SubModelPlanning.plan(p.spec(), p.devices(), p.model(), p.memory(), p.source());
  }

  @Override
  public ModeRuntime prepare(Preparation p) throws IOException {
    return SubModelRuntime.prepare(p);
  }

  /** A sub-model's step sends nothing while its backward runs: there is nothing to overlap. */
  @Override
  public boolean overlaps(JobSpec spec) {
    return false;
  }

  @Override
  public Optional<Refusal> check(JobSpec spec) {
    if (spec.updateMicroBatch() != 0) {
      return Optional.of(new Refusal("update-micro-batch", spec.updateMicroBatch() == JobSpec.AUTO_MICRO_BATCH ? "auto"
          : Integer.toString(spec.updateMicroBatch()), "0 in mode submodels (a sub-model trains on whole batches)"));
    }
    if (!spec.refreshCompression().kind().equals("none")) {
      return Optional.of(new Refusal("refresh-compression.kind", spec.refreshCompression().kind(), "none in mode"
          + " submodels (sub-models are assembled by an AllReduce of their weights, never refreshed)"));
    }
    if (ClassPartitions.byClasses(spec)) {
      return Optional.empty();
    }
    return Optional.of(new Refusal("partition", spec.partition(), "classes:<min>-<max> or classes:0+1,2+3,... in"
        + " mode submodels (each device's sub-model serves its classes)"));
  }
}
