package org.dsparse.actors.mode.tiles;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.dsparse.actors.mode.dataparallel.DataParallelMode;
import org.dsparse.actors.mode.dataparallel.DataParallelPlanning;
import org.dsparse.actors.mode.dataparallel.DataParallelRuntime;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Planning;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.Planner;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.training.tiling.TiledTrainer;

/**
 * DSparse with a tile group (Rama et al. 2024): a few devices train the network's first layers
 * together, each on its tile of the batch they share ({@link TileGroupPlanning}), and DSparse plans
 * the layers above them. A member's step is a data-parallel step whose forward and backward are its
 * tiles' ({@link TiledBackward}); the other devices' are DSparse's. When fewer than two members are
 * left (a re-plan after losses), the job goes on as plain DSparse.
 */
public final class TileGroupMode implements TrainingMode {
  public static final TileGroupMode INSTANCE = new TileGroupMode();

  private TileGroupMode() {}

  /** A tile's backward runs on the whole batch's tile: micro-batches are not built for it. */
  @Override
  public Optional<Refusal> check(JobSpec spec) {
    if (spec.updateMicroBatch() != 0) {
      return Optional.of(new Refusal("update-micro-batch", spec.updateMicroBatch() == JobSpec.AUTO_MICRO_BATCH ? "auto"
          : Integer.toString(spec.updateMicroBatch()), "0 with tiling (a tile group's backward runs on whole"
          + " batches)"));
    }
    return Optional.empty();
  }

  @Override
  public PlannedJob plan(Planning p) throws IOException {
    TileGroupPlanning.Choice tiles = TileGroupPlanning.choose(p.spec(), p.devices(), p.model(), p.data().imageShape());
    if (tiles == null) {
      return DataParallelMode.DSPARSE.plan(p);
    }
    Plan plan = Planner.plan(p.memory(), TileGroupPlanning.budgets(p.devices(), tiles),
        DataParallelPlanning.importance(p), DataParallelPlanning.settings(p), tiles.tiledLayers());
    return TileGroupPlanning.withTileGroup(p.spec(), p.devices(), DataParallelPlanning.fromPlan(p.spec(), plan,
        p.model()), tiles, p.model(), p.memory());
  }

  /**
   * A member reads one batch a step with the other members, from their shards joined in the head's
   * order, so that every member reads the same batch and no shard goes unread; its tiled layers learn
   * from that one batch, as one device's layers do.
   */
  @Override
  public ModeRuntime prepare(Preparation p) throws IOException {
    TileRole tile = p.assignment().tile();
    if (tile == null) {
      return DataParallelMode.DSPARSE.prepare(p);
    }
    return DataParallelRuntime.prepare(p, Plans.dataShards(p.devices(), tile.members()),
        Plans.learningRateScales(p.spec(), p.groups(), p.device(), p.devices().size(), Set.of(tile.groupId())),
        false, (trainer, model, train) -> new TiledBackward(new TiledTrainer(trainer, grouping(tile),
            new TilingCostModel.Grid(tile.rows(), tile.columns()), train.imageShape(), tile.rank(p.device())), tile,
            p.spec().jobId(), model.manager()));
  }

  @Override
  public String role(Preparation p) {
    TileRole tile = p.assignment().tile();
    return tile == null ? "" : ", tile " + tile.rank(p.device()) + " of the tile group " + tile.members();
  }

  /** The tile group's fused groups of layers. */
  private static List<TilingCostModel.Group> grouping(TileRole tile) {
    List<TilingCostModel.Group> groups = new ArrayList<>();
    int from = 0;
    for (int end : tile.groupEnds()) {
      groups.add(new TilingCostModel.Group(from, end));
      from = end;
    }
    return groups;
  }
}
