package org.dsparse.training.tiling;

import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.dsparse.core.tiling.Stage;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.core.tiling.TiledLayer;
import org.dsparse.core.tiling.Window;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.MaxPool;

/**
 * A fused group of a model's layers, read as the operations a tile runs: convolutions and max
 * pooling (which move the tile's spans), BatchNorm, element-wise activations and residual additions.
 * The layers' blocks are only read: a tile computes with their parameters, so gradients and running
 * statistics land where the untiled model keeps them.
 */
public final class TiledGroup {
  /** Names of DJL's element-wise lambda blocks: each output position reads the same input position. */
  private static final Set<String> POINTWISE = Set.of("ReLU", "ReLU6", "identity");

  /** One operation of a tile's forward. */
  sealed interface Op permits Spatial, Norm, Pointwise, SkipStart, SkipAdd {}

  /** A convolution or pooling: stage {@code stage} of the geometry. */
  record Spatial(Block block, int stage) implements Op {}

  /** A BatchNorm over the output of stage {@code stage}. */
  record Norm(BatchNorm block, int stage) implements Op {}

  record Pointwise(Block block) implements Op {}

  /** A residual block begins: its input is kept for the addition. */
  record SkipStart() implements Op {}

  /** A residual block ends: its kept input, at the output's positions, is added. */
  record SkipAdd() implements Op {}

  private final List<TiledLayer> layers;
  private final List<Op> ops;
  private final List<Stage> stages;
  private final int height;
  private final int width;

  private TiledGroup(List<TiledLayer> layers, List<Op> ops, int height, int width) {
    this.layers = layers;
    this.ops = ops;
    this.stages = layers.stream().flatMap(l -> l.stages().stream()).toList();
    this.height = height;
    this.width = width;
  }

  /**
   * The group of {@code layers} (consecutive layers of a model) on inputs of {@code channels x height x
   * width}; refuses a layer with an operation tiles cannot run, naming it.
   */
  public static TiledGroup of(List<Layer> layers, int channels, int height, int width) {
    Reader reader = new Reader(channels);
    List<TiledLayer> described = new ArrayList<>();
    for (Layer layer : layers) {
      reader.layer = layer.name();
      int first = reader.stages.size();
      reader.read(layer.block());
      reader.close();
      if (reader.stages.size() == first) {
        throw new IllegalArgumentException("layer " + layer.name() + " has no convolution or pooling to tile");
      }
      described.add(new TiledLayer(layer.name(), List.copyOf(reader.stages.subList(first, reader.stages.size()))));
    }
    return new TiledGroup(List.copyOf(described), List.copyOf(reader.ops), height, width);
  }

  /** The layers as the cost model sees them. */
  public List<TiledLayer> layers() {
    return layers;
  }

  List<Op> ops() {
    return ops;
  }

  /** The tiles of a {@code rows x columns} grid over this group. */
  public TileGeometry geometry(int rows, int columns) {
    return TileGeometry.of(stages, height, width, rows, columns);
  }

  /** Walks a layer's blocks into operations and stages. */
  private static final class Reader {
    final List<Op> ops = new ArrayList<>();
    final List<Stage> stages = new ArrayList<>();
    String layer;
    int channels;
    // The stage being read: its costs grow with the norm and activations that follow it.
    Stage open;
    double stored;
    boolean normalized;

    Reader(int channels) {
      this.channels = channels;
    }

    void read(Block block) {
      if (block instanceof SequentialBlock) {
        for (var child : block.getChildren()) {
          read(child.getValue());
        }
      } else if (block instanceof ParallelBlock parallel) {
        var branches = parallel.getChildren().values();
        if (branches.size() != 2 || !(branches.get(1) instanceof LambdaBlock skip)
            || !"identity".equals(skip.getName())) {
          throw refuse(block, "a parallel block other than a residual addition");
        }
        ops.add(new SkipStart());
        int in = channels;
        read(branches.get(0));
        if (channels != in) {
          throw refuse(block, "a residual block that changes the channels");
        }
        ops.add(new SkipAdd());
      } else if (block instanceof Conv2d conv) {
        close();
        Window h = new Window((int) conv.getKernelShape().get(0), (int) conv.getStride().get(0),
            (int) conv.getPadding().get(0), (int) conv.getDilation().get(0));
        Window w = new Window((int) conv.getKernelShape().get(1), (int) conv.getStride().get(1),
            (int) conv.getPadding().get(1), (int) conv.getDilation().get(1));
        long weights = (long) h.kernel() * w.kernel() * channels / conv.getGroups() * conv.getFilters()
            + (conv.isIncludeBias() ? conv.getFilters() : 0);
        open = new Stage(layer + "." + stages.size(), h, w, channels, conv.getFilters(),
            2.0 * h.kernel() * w.kernel() * channels / conv.getGroups(), 1, weights, false);
        ops.add(new Spatial(block, stages.size()));
        channels = conv.getFilters();
      } else if (block instanceof MaxPool pool) {
        close();
        Window window = new Window(pool.kernel(), pool.stride(), 0, 1);
        open = new Stage(layer + "." + stages.size(), window, window, channels, channels,
            (double) pool.kernel() * pool.kernel(), 1, 0, false);
        ops.add(new Spatial(block, stages.size()));
      } else if (block instanceof BatchNorm norm) {
        if (open == null) {
          throw refuse(block, "a BatchNorm before any convolution");
        }
        stored++;
        normalized = true;
        ops.add(new Norm(norm, stages.size()));
      } else if (block instanceof LambdaBlock lambda && POINTWISE.contains(lambda.getName())) {
        stored++;
        ops.add(new Pointwise(block));
      } else {
        throw refuse(block, "a " + block.getClass().getSimpleName()
            + (block instanceof LambdaBlock l ? " '" + l.getName() + "'" : ""));
      }
    }

    /** Ends the open stage, its costs complete. */
    void close() {
      if (open != null) {
        stages.add(new Stage(open.name(), open.height(), open.width(), open.inChannels(), open.outChannels(),
            open.flopsPerOutput(), open.storedPerOutput() + stored, open.weights() + (normalized
                ? 2L * open.outChannels() : 0), normalized));
        open = null;
        stored = 0;
        normalized = false;
      }
    }

    IllegalArgumentException refuse(Block block, String what) {
      return new IllegalArgumentException("layer " + layer + " cannot be tiled: it has " + what
          + " (tiles run convolutions, max pooling, BatchNorm, ReLU/ReLU6 and residual additions)");
    }
  }
}
