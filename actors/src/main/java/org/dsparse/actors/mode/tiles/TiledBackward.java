package org.dsparse.actors.mode.tiles;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.dsparse.actors.mode.dataparallel.Backward;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.tiling.TiledStep;
import org.dsparse.training.tiling.TiledTrainer;

/**
 * A tile group member's forward and backward: its tiles of the batch the group shares
 * ({@link TiledTrainer}), the head running the rest of the network; it goes on on the model thread
 * as the tile group's exchanges answer. Each member leaves its tiles' weight gradients times the
 * group's size, so that the tiled layers' AllReduce among the members (the plan's tile group, a
 * group as any other) averages them into the batch's gradient; everything after is a data-parallel
 * step's.
 *
 * <p>After a cancel the chain goes on to its next exchange, which fails as the job's process groups
 * are stopped; it changes only its own tensors and the tiled layers' BatchNorm statistics of a model
 * the re-plan replaces.
 */
final class TiledBackward implements Backward {
  /** Exchanges a tile group may run per step: sequence numbers of its exchange are {@code step * this + k}. */
  private static final long TILE_EXCHANGES_PER_STEP = 1L << 20;

  private final TiledTrainer tiled;
  private final TileRole tile;
  private final String jobId;
  private final NDManager manager;

  TiledBackward(TiledTrainer tiled, TileRole tile, String jobId, NDManager manager) {
    this.tiled = tiled;
    this.tile = tile;
    this.jobId = jobId;
    this.manager = manager;
  }

  @Override
  public CompletionStage<Float> run(ImageBatch batch, NDList prefix, Step step) {
    TileGroupExchange exchange = new TileGroupExchange(step.collectives(), tile.exchangeId(jobId),
        tile.rank(step.device()), tile.members().size(), new AtomicLong(step.step() * TILE_EXCHANGES_PER_STEP));
    return tiled.step(batch.images(), batch.labels(), exchange, step.modelThread(), manager, step.cuts(),
        step.segmentsDone(), TiledStep.WeightGradients.SCALED_FOR_AVERAGE).handle((loss, error) -> {
          if (error != null) {
            throw new StageFailure("the tile group's step failed: " + StageFailure.message(error), error);
          }
          return loss;
        });
  }

  /** Every member reads the head's batch whole: nothing is taken ahead through frozen layers. */
  @Override
  public boolean takesAhead() {
    return false;
  }

  /**
   * The tile group's exchange, and a pair with each other member for its point-to-point exchanges.
   */
  @Override
  public Map<String, DeviceGroups.Collective> collectives(String device, String jobId, List<GroupPlan> groups) {
    GroupPlan tiledGroup = groups.stream().filter(g -> g.groupId().equals(tile.groupId())).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("the plan has no group " + tile.groupId()
            + " for its tile group " + tile.members()));
    Map<String, DeviceGroups.Collective> collectives = new LinkedHashMap<>();
    String id = tile.exchangeId(jobId);
    collectives.put(id, new DeviceGroups.Collective(id, tiledGroup, WireBytes.TILES, tile.members()));
    int rank = tile.rank(device);
    for (int u = 0; u < tile.members().size(); u++) {
      if (u != rank) {
        String pair = TileGroupExchange.pairId(id, rank, u);
        collectives.put(pair, new DeviceGroups.Collective(pair, tiledGroup, WireBytes.TILES,
            List.of(tile.members().get(Math.min(rank, u)), tile.members().get(Math.max(rank, u)))));
      }
    }
    return collectives;
  }
}
