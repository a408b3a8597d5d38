package org.dsparse.training.tiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.StatefulOptimizer;

/**
 * One device of a tile group training a model whose first layers are tiled: every member runs its
 * tiles of the fused groups on the same batch, the head (rank 0, the device with the most memory)
 * runs the rest of the network on the gathered output, and every member steps its optimizer on
 * what it updates: the tiled layers everywhere (their gradients summed over the tile group, so every
 * member's copy stays the same), the rest on the head alone.
 */
public final class TiledTrainer {
  private final LayeredModel model;
  private final int tiledLayers;
  private final List<TiledGroup> groups;
  private final List<TileGeometry> geometries;
  private final TileExchange exchange;
  private final Executor djl;
  private final StatefulOptimizer optimizer;
  private final List<Parameter> updated = new ArrayList<>();
  private final Loss loss = Loss.softmaxCrossEntropyLoss();
  private final ParameterStore parameters;
  private final java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
  private volatile long lastRestCpuNanos;

  /**
   * @param grouping the fused groups of the first layers (consecutive, from layer 0), as the cost model
   *     chose them
   * @param grid the tile grid, of as many tiles as the tile group has members
   * @param inputShape one sample's channels, height and width
   */
  public TiledTrainer(LayeredModel model, List<TilingCostModel.Group> grouping, TilingCostModel.Grid grid,
      Shape inputShape, OptimizerSpec optimizerSpec, TileExchange exchange, Executor djl) {
    this.model = model;
    this.exchange = exchange;
    this.djl = djl;
    this.tiledLayers = grouping.get(grouping.size() - 1).to();
    List<TiledGroup> built = new ArrayList<>();
    int channels = (int) inputShape.get(0);
    int height = (int) inputShape.get(1);
    int width = (int) inputShape.get(2);
    List<TileGeometry> tiles = new ArrayList<>();
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
    this.optimizer = optimizerSpec.build();
    this.parameters = new ParameterStore(model.manager(), false);
    for (int i = 0; i < model.layerCount(); i++) {
      boolean updates = i < tiledLayers || isHead();
      for (Parameter p : model.layer(i).trainable()) {
        p.freeze(!updates);
        if (updates) {
          updated.add(p);
        }
      }
    }
  }

  private boolean isHead() {
    return exchange.rank() == 0;
  }

  /** The CPU time the head spent on the rest of the network (forward and backward) in the last step. */
  public long lastRestCpuNanos() {
    return lastRestCpuNanos;
  }

  /**
   * One step on {@code images} and {@code labels} (the same batch on every member), with
   * {@code collector} open for it; answers the batch's loss on the head, NaN elsewhere, once this
   * member's gradients are final (then close the collector and {@link #update}).
   */
  public CompletionStage<Float> step(NDArray images, NDArray labels, GradientCollector collector, NDManager manager) {
    TiledStep step = new TiledStep(groups, geometries, model.layers().subList(0, tiledLayers), exchange, 0, djl,
        collector, manager);
    float[] value = {Float.NaN};
    return step.forward(images).thenComposeAsync(whole -> {
      NDArray gradient = null;
      if (isHead()) {
        long started = threads.getCurrentThreadCpuTime();
        NDArray leaf = whole.stopGradient();
        leaf.setRequiresGradient(true);
        NDList h = new NDList(leaf);
        for (int i = tiledLayers; i < model.layerCount(); i++) {
          h = model.layer(i).block().forward(parameters, h, true);
        }
        NDArray lossValue = loss.evaluate(new NDList(labels), h);
        collector.backward(lossValue);
        value[0] = lossValue.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
        gradient = leaf.getGradient();
        lastRestCpuNanos = threads.getCurrentThreadCpuTime() - started;
      }
      return step.backward(gradient);
    }, djl).thenApplyAsync(inputGradient -> {
      step.close();
      return value[0];
    }, djl).whenComplete((v, e) -> {
      if (e != null) {
        djl.execute(step::close);
      }
    });
  }

  /**
   * Steps the optimizer on this member's gradients, then clears them; after {@link #step} is done
   * and its collector closed (an update while gradients are recorded would be recorded too).
   */
  public void update() {
    for (Parameter p : updated) {
      try (NDArray grad = p.getArray().getGradient()) {
        optimizer.update(p.getId(), p.getArray(), grad);
        grad.subi(grad);
      }
    }
  }

  /**
   * The tiled layers alone, forward and backward (the output's gradient all ones), no optimizer: what
   * a member that is not the head does each step, for measuring its memory on one device.
   */
  public CompletionStage<Void> tilesOnly(NDArray images, GradientCollector collector, NDManager manager) {
    TiledStep step = new TiledStep(groups, geometries, model.layers().subList(0, tiledLayers), exchange, 0, djl,
        collector, manager);
    return step.forward(images)
        .thenComposeAsync(whole -> step.backward(isHead() ? whole.onesLike() : null), djl)
        .handleAsync((done, error) -> {
          step.close();
          if (error != null) {
            throw new java.util.concurrent.CompletionException(error);
          }
          return null;
        }, djl);
  }

  /** Predicted classes for a batch, untiled and in inference mode (the head holds every layer). */
  public int correct(NDArray images, NDArray labels) {
    NDList h = new NDList(images);
    for (Layer layer : model.layers()) {
      NDList next = layer.block().forward(parameters, h, false);
      if (h.head() != images) {
        h.close();
      }
      h = next;
    }
    NDArray predicted = h.singletonOrThrow().argMax(1);
    int correct = (int) predicted.toType(labels.getDataType(), false).eq(labels).sum().getLong();
    h.close();
    return correct;
  }

}
