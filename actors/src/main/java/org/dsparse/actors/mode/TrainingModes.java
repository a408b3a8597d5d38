package org.dsparse.actors.mode;

import org.dsparse.actors.mode.dataparallel.DataParallelMode;
import org.dsparse.actors.mode.submodels.SubModelsMode;
import org.dsparse.actors.mode.tiles.TileGroupMode;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.protocol.job.JobSpec;

/**
 * The one place a job's training mode is chosen, from its settings, as the transport is chosen from
 * its own: the coordinator plans with it and every device prepares with it.
 */
public final class TrainingModes {
  private TrainingModes() {}

  public static TrainingMode of(JobSpec spec) {
    return switch (spec.mode()) {
      case FULL -> DataParallelMode.FULL;
      case DSPARSE -> spec.tiling().enabled() ? TileGroupMode.INSTANCE : DataParallelMode.DSPARSE;
      case SUBMODELS -> SubModelsMode.INSTANCE;
    };
  }
}
