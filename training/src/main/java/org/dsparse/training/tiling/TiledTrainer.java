package org.dsparse.training.tiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.Recording;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device of a tile group, training a model whose first layers are tiled: every member runs its
 * tiles of the fused groups on the same batch; the head (rank 0) runs the rest of the network on the
 * gathered output with its {@link SparseTrainer}, which updates what the head updates there. The
 * tiled layers are in every member's trainer; after {@link #step} the caller aggregates their
 * gradients as the step's {@link TiledStep.WeightGradients} says, then steps the trainer.
 */
public final class TiledTrainer {
  private final SparseTrainer trainer;
  private final LayeredModel model;
  private final int tiledLayers;
  private final List<TiledGroup> groups;
  private final List<TileGeometry> geometries;
  private final int rank;
  private final java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
  private volatile long lastRestCpuNanos;

  /**
   * @param trainer this member's trainer: it updates every tiled layer (and, on the head, what the
   *     head updates above them)
   * @param grouping the fused groups of the first layers (consecutive, from layer 0), as the cost model
   *     chose them
   * @param grid the tile grid, of as many tiles as the tile group has members
   * @param inputShape one sample's channels, height and width
   * @param rank this member's tile; 0 is the head
   */
  public TiledTrainer(SparseTrainer trainer, List<TilingCostModel.Group> grouping, TilingCostModel.Grid grid,
      Shape inputShape, int rank) {
    this.trainer = trainer;
    this.model = trainer.model();
    this.rank = rank;
    this.tiledLayers = grouping.get(grouping.size() - 1).to();
    if (tiledLayers >= model.layerCount()) {
      throw new IllegalArgumentException("tiling " + tiledLayers + " layers of " + model.name() + ", which has "
          + model.layerCount() + ": the head needs a layer above them");
    }
    for (int l = 0; l < tiledLayers; l++) {
      if (!model.layer(l).trainable().isEmpty() && !trainer.update().isUpdated(l)) {
        throw new IllegalArgumentException("the trainer of a tile group's member must update every tiled layer;"
            + " it does not update layer " + l + " (" + model.layer(l).name() + ")");
      }
    }
    List<TiledGroup> built = new ArrayList<>();
    List<TileGeometry> tiles = new ArrayList<>();
    int channels = (int) inputShape.get(0);
    int height = (int) inputShape.get(1);
    int width = (int) inputShape.get(2);
    for (TilingCostModel.Group g : grouping) {
      TiledGroup group = TiledGroup.of(model.layers().subList(g.from(), g.to()), channels, height, width);
      TileGeometry geometry = group.geometry(grid.rows(), grid.columns());
      built.add(group);
      tiles.add(geometry);
      var last = group.layers().get(group.layers().size() - 1).stages();
      channels = last.get(last.size() - 1).outChannels();
      height = geometry.height(geometry.stages().size());
      width = geometry.width(geometry.stages().size());
    }
    this.groups = List.copyOf(built);
    this.geometries = List.copyOf(tiles);
  }

  public SparseTrainer trainer() {
    return trainer;
  }

  /** How many of the first layers are tiled. */
  public int tiledLayers() {
    return tiledLayers;
  }

  private boolean isHead() {
    return rank == 0;
  }

  /** The CPU time the head spent on the rest of the network (forward and backward) in the last step. */
  public long lastRestCpuNanos() {
    return lastRestCpuNanos;
  }

  /**
   * One step on {@code images} and {@code labels} (the same batch on every member) over
   * {@code exchange}; answers the batch's loss on the head, NaN elsewhere, once this member's
   * gradients are final: then aggregate the tiled layers' as {@code weightGradients} says and step
   * the trainer. Segments of a backward cut at {@code cuts} are reported as the trainer reports
   * them, those holding tiled layers once the tiles' backward is done (on members other than the head,
   * all of them then, from the top down). DJL work runs on {@code djl}, which must be the DJL
   * thread; {@code manager} holds the step's tensors until it ends.
   */
  public CompletionStage<Float> step(NDArray images, NDArray labels, TileExchange exchange, Executor djl,
      NDManager manager, int[] cuts, SparseTrainer.SegmentDone segmentDone,
      TiledStep.WeightGradients weightGradients) {
    if (exchange.rank() != rank) {
      throw new IllegalArgumentException("member " + rank + " stepping with the exchange of member " + exchange.rank());
    }
    Recording recording = Recording.start();
    TiledStep step = new TiledStep(groups, geometries, model.layers().subList(0, tiledLayers), exchange, 0, djl,
        recording, manager, weightGradients);
    int tiledSegment = segmentOf(cuts, tiledLayers - 1);
    long[] backwardStarted = {0};
    float[] loss = {Float.NaN};
    CompletionStage<Float> done;
    try {
      done = step.forward(images).thenComposeAsync(whole -> {
        NDArray gradient = null;
        if (isHead()) {
          long started = threads.getCurrentThreadCpuTime();
          NDArray leaf = whole.stopGradient();
          leaf.setRequiresGradient(true);
          loss[0] = trainer.forwardBackwardAbove(tiledLayers, leaf, labels, recording, cuts, (segment, nanos) -> {
            if (backwardStarted[0] == 0) {
              backwardStarted[0] = System.nanoTime() - nanos;
            }
            if (segment > tiledSegment) {
              segmentDone.accept(segment, nanos);
            }
          });
          gradient = leaf.getGradient();
          lastRestCpuNanos = threads.getCurrentThreadCpuTime() - started;
        } else {
          trainer.startRecordedElsewhere();
          backwardStarted[0] = System.nanoTime();
        }
        return step.backward(gradient);
      }, djl).thenApplyAsync(inputGradient -> {
        for (int segment = isHead() ? tiledSegment : cuts.length; segment >= 0; segment--) {
          segmentDone.accept(segment, System.nanoTime() - backwardStarted[0]);
        }
        return loss[0];
      }, djl);
    } catch (RuntimeException e) {
      close(step, recording);
      throw e;
    }
    return done.whenCompleteAsync((value, error) -> close(step, recording), djl);
  }

  private static void close(TiledStep step, Recording recording) {
    recording.close();
    step.close();
  }

  /** The segment of a backward cut at {@code cuts} that holds layer {@code layer}. */
  private static int segmentOf(int[] cuts, int layer) {
    int segment = 0;
    while (segment < cuts.length && cuts[segment] <= layer) {
      segment++;
    }
    return segment;
  }

  /**
   * The tiled layers alone, forward and backward (the output's gradient all ones), no optimizer: what
   * a member that is not the head does each step, for measuring its memory on one device.
   */
  public CompletionStage<Void> tilesOnly(NDArray images, TileExchange exchange, Executor djl, NDManager manager) {
    Recording recording = Recording.start();
    TiledStep step = new TiledStep(groups, geometries, model.layers().subList(0, tiledLayers), exchange, 0, djl,
        recording, manager);
    CompletionStage<Void> done;
    try {
      done = step.forward(images)
          .thenComposeAsync(whole -> step.backward(isHead() ? whole.onesLike() : null), djl)
          .thenApply(inputGradient -> null);
    } catch (RuntimeException e) {
      close(step, recording);
      throw e;
    }
    return done.whenCompleteAsync((value, error) -> {
      close(step, recording);
      trainer.startRecordedElsewhere();
      trainer.discardGradients();
    }, djl);
  }
}
