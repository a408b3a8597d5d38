package org.dsparse.training.tiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.core.tiling.Span;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.NativeFloats;

/**
 * One member's part of a tiled step over consecutive fused groups: its tile of each group, the halos
 * between groups, the last group's output gathered onto the head (the member that runs the rest of
 * the network), that output's gradient back from it, and the tiled weights' gradients summed over
 * the tile group. Every member reads the same batch; its first group's tile is cut from it.
 *
 * <p>Between groups each member sends every other member the part of its own output that member's
 * next tile holds ({@code owned(t) ∩ held(u)}; empty for tiles that do not touch), and backward the
 * gradient of those parts the other way, where they add up: a halo row's gradient is the sum of what
 * every tile that read it computed. BatchNorm's statistics cross as each tile's (count, mean, sum of
 * squared deviations) per channel, combined in double precision (Chan et al.), so a channel whose
 * mean is large against its spread keeps its variance.
 *
 * <p>DJL work runs on {@code djl} (the JVM's DJL thread); the exchanges' answers resume it there.
 */
public final class TiledStep implements AutoCloseable {
  private final List<TiledGroup> groups;
  private final List<TileGeometry> geometries;
  private final TileExchange exchange;
  private final int head;
  private final Executor djl;
  private final GradientCollector collector;
  private final NDManager manager;
  private final List<Parameter> trained;
  private final WeightGradients weightGradients;
  private final List<TileStep> steps = new ArrayList<>();
  private Shape batchShape;

  /** What becomes of the tiled weights' gradients, each member's share of the batch's, at the end of the backward. */
  public enum WeightGradients {
    /** Summed over the tile group here: every member then holds the batch's gradient. */
    SUMMED,
    /**
     * Each member's share times the tile group's size, left for the caller's AllReduce, whose
     * average is then the batch's gradient (a job's tile group averages them in its process group).
     */
    SCALED_FOR_AVERAGE
  }

  /**
   * @param groups the fused groups, consecutive layers, the first reading the network's input
   * @param geometries each group's tiles, one grid for all
   * @param layers the tiled layers (their trained tensors' gradients are summed over the tile group)
   * @param head the member that runs the rest of the network and gets the last group's output
   */
  public TiledStep(List<TiledGroup> groups, List<TileGeometry> geometries, List<Layer> layers, TileExchange exchange,
      int head, Executor djl, GradientCollector collector, NDManager parent) {
    this(groups, geometries, layers, exchange, head, djl, collector, parent, WeightGradients.SUMMED);
  }

  /** The same, the tiled weights' gradients left as {@code weightGradients} says. */
  public TiledStep(List<TiledGroup> groups, List<TileGeometry> geometries, List<Layer> layers, TileExchange exchange,
      int head, Executor djl, GradientCollector collector, NDManager parent, WeightGradients weightGradients) {
    if (groups.size() != geometries.size() || groups.isEmpty()) {
      throw new IllegalArgumentException("a tiled step needs one geometry per group, got " + groups.size()
          + " groups and " + geometries.size() + " geometries");
    }
    for (TileGeometry g : geometries) {
      if (g.tiles() != exchange.members()) {
        throw new IllegalArgumentException("a grid of " + g.tiles() + " tiles for a tile group of "
            + exchange.members());
      }
    }
    this.groups = List.copyOf(groups);
    this.geometries = List.copyOf(geometries);
    this.exchange = exchange;
    this.head = head;
    this.djl = djl;
    this.collector = collector;
    this.manager = parent.newSubManager();
    this.trained = layers.stream().flatMap(l -> l.trainable().stream()).toList();
    this.weightGradients = weightGradients;
  }

  private int tile() {
    return exchange.rank();
  }

  /**
   * The forward of every group on this member's tiles; on the head, the last group's whole output
   * (batch x channels x height x width), elsewhere null.
   */
  public CompletionStage<NDArray> forward(NDArray batch) {
    batchShape = batch.getShape();
    TileGeometry first = geometries.get(0);
    NDArray input = crop(batch, first.input(tile()).inRows().held(), first.input(tile()).inColumns().held());
    return runGroup(0, input);
  }

  private CompletionStage<NDArray> runGroup(int g, NDArray input) {
    TileStep step = new TileStep(groups.get(g), geometries.get(g), tile(), collector, true, manager);
    steps.add(step);
    step.begin(input);
    return statistics(step).thenCompose(done -> {
      NDArray own = step.output();
      if (g + 1 < groups.size()) {
        return halos(g, own).thenComposeAsync(next -> runGroup(g + 1, next), djl);
      }
      return gatherOutput(own);
    });
  }

  /** Resumes {@code step} through its BatchNorms, each with the tile group's statistics. */
  private CompletionStage<Void> statistics(TileStep step) {
    if (!step.waitsForStatistics()) {
      return CompletableFuture.completedFuture(null);
    }
    double[] local = step.statistics();
    int channels = (local.length - 1) / 2;
    double count = local[2 * channels];
    float[] moments = new float[1 + 2 * channels];
    moments[0] = (float) count;
    for (int c = 0; c < channels; c++) {
      double mean = count > 0 ? local[c] / count : 0;
      moments[1 + c] = (float) mean;
      moments[1 + channels + c] = (float) Math.max(0, local[channels + c] - count * mean * mean);
    }
    int[] lengths = new int[exchange.members()];
    java.util.Arrays.fill(lengths, moments.length);
    return exchange.gather(moments, lengths).thenComposeAsync(all -> {
      step.resume(combine(all, channels));
      return statistics(step);
    }, djl);
  }

  /** The tiles' (count, mean, squared deviations) as the group's sums and sums of squares. */
  static double[] combine(List<float[]> all, int channels) {
    double count = 0;
    double[] mean = new double[channels];
    for (float[] m : all) {
      count += m[0];
      for (int c = 0; c < channels; c++) {
        mean[c] += (double) m[0] * m[1 + c];
      }
    }
    double[] totals = new double[2 * channels + 1];
    for (int c = 0; c < channels; c++) {
      mean[c] /= count;
      double deviations = 0;
      for (float[] m : all) {
        double d = m[1 + c] - mean[c];
        deviations += m[1 + channels + c] + m[0] * d * d;
      }
      totals[c] = count * mean[c];
      totals[channels + c] = deviations + count * mean[c] * mean[c];
    }
    totals[2 * channels] = count;
    return totals;
  }

  /** The next group's input for this tile: its own output and the neighbours' parts of theirs. */
  private CompletionStage<NDArray> halos(int g, NDArray own) {
    int boundary = g + 1;
    int t = tile();
    TileGeometry.Piece owned = geometries.get(g).owned(t);
    float[][] toEach = new float[exchange.members()][];
    for (int u = 0; u < exchange.members(); u++) {
      Block b = sent(boundary, t, u, true);
      toEach[u] = u != t && !b.isEmpty() ? pack(List.of(crop(own, owned, b))) : new float[0];
    }
    return exchange.swap(toEach, sentLengths(boundary, true, own)).thenApplyAsync(all -> {
      TileGeometry.Piece held = geometries.get(boundary).input(t);
      Span rows = held.inRows().held();
      Span columns = held.inColumns().held();
      NDArray input = manager.zeros(new Shape(own.getShape().get(0), own.getShape().get(1), rows.length(),
          columns.length()), own.getDataType());
      Block mine = block(owned, held);
      if (!mine.isEmpty()) {
        input.set(index(mine, rows, columns), crop(own, owned, mine));
      }
      for (int from = 0; from < exchange.members(); from++) {
        Block b = sent(boundary, from, t, true);
        if (from != t && !b.isEmpty()) {
          input.set(index(b, rows, columns), unpack(all.get(from), 0, blockShape(b, own), own.getDataType()));
        }
      }
      return input;
    }, djl);
  }

  /**
   * What {@code sender} sends {@code partner} at the boundary before group {@code boundary}: forward,
   * the part of its output the partner's tile holds; backward, the gradient of the part of the
   * partner's output its own tile held.
   */
  private Block sent(int boundary, int sender, int partner, boolean forward) {
    int owner = forward ? sender : partner;
    int reader = forward ? partner : sender;
    return block(geometries.get(boundary - 1).owned(owner), geometries.get(boundary).input(reader));
  }

  /** What every member sends every other at a boundary: {@code [sender][partner]} floats. */
  private int[][] sentLengths(int boundary, boolean forward, NDArray like) {
    int[][] lengths = new int[exchange.members()][exchange.members()];
    for (int sender = 0; sender < exchange.members(); sender++) {
      for (int partner = 0; partner < exchange.members(); partner++) {
        if (partner != sender) {
          lengths[sender][partner] = area(sent(boundary, sender, partner, forward), like);
        }
      }
    }
    return lengths;
  }

  /** A block's shape over the batch and channels of {@code like}. */
  private static Shape blockShape(Block b, NDArray like) {
    return new Shape(like.getShape().get(0), like.getShape().get(1), b.rows().length(), b.columns().length());
  }

  /** The last group's output onto the head: each member sends it the part it owns. */
  private CompletionStage<NDArray> gatherOutput(NDArray own) {
    TileGeometry last = geometries.get(geometries.size() - 1);
    int[][] lengths = new int[exchange.members()][exchange.members()];
    for (int u = 0; u < exchange.members(); u++) {
      if (u != head) {
        TileGeometry.Piece p = last.owned(u);
        lengths[u][head] = area(new Block(p.outRows(), p.outColumns()), own);
      }
    }
    float[][] toEach = new float[exchange.members()][];
    for (int u = 0; u < exchange.members(); u++) {
      toEach[u] = u == head && tile() != head ? pack(List.of(own)) : new float[0];
    }
    return exchange.swap(toEach, lengths).thenApplyAsync(all -> {
      if (tile() != head) {
        return null;
      }
      int height = last.height(last.stages().size());
      int width = last.width(last.stages().size());
      NDArray whole = manager.zeros(new Shape(own.getShape().get(0), own.getShape().get(1), height, width),
          own.getDataType());
      Span allRows = new Span(0, height);
      Span allColumns = new Span(0, width);
      for (int u = 0; u < exchange.members(); u++) {
        TileGeometry.Piece p = last.owned(u);
        Block b = new Block(p.outRows(), p.outColumns());
        whole.set(index(b, allRows, allColumns), u == head ? own
            : unpack(all.get(u), 0, blockShape(b, own), own.getDataType()));
      }
      return whole;
    }, djl);
  }

  /**
   * The backward from the gradient of the last group's output ({@code outputGradient} on the head,
   * null elsewhere), ending with the tiled weights' gradients as {@link WeightGradients} says; answers
   * this member's gradient of its first tile's input.
   */
  public CompletionStage<NDArray> backward(NDArray outputGradient) {
    TileGeometry last = geometries.get(geometries.size() - 1);
    NDArray lastOutput = steps.get(steps.size() - 1).output();
    int[][] lengths = new int[exchange.members()][exchange.members()];
    float[][] toEach = new float[exchange.members()][];
    for (int u = 0; u < exchange.members(); u++) {
      TileGeometry.Piece p = last.owned(u);
      Block b = new Block(p.outRows(), p.outColumns());
      if (u != head) {
        lengths[head][u] = area(b, lastOutput);
      }
      toEach[u] = tile() == head && u != head ? pack(List.of(crop(outputGradient, p.outRows(), p.outColumns())))
          : new float[0];
    }
    // The head sends each member the gradient of the part it owns.
    return exchange.swap(toEach, lengths).thenComposeAsync(all -> {
      TileGeometry.Piece own = last.owned(tile());
      // The head's own part in the exchange's precision, as every other member's.
      NDArray gradient = tile() == head ? crop(outputGradient, own.outRows(), own.outColumns())
          .toType(DataType.FLOAT32, false).toType(lastOutput.getDataType(), false)
          : unpack(all.get(head), 0, blockShape(new Block(own.outRows(), own.outColumns()), lastOutput),
              lastOutput.getDataType());
      return backGroup(groups.size() - 1, gradient);
    }, djl);
  }

  private CompletionStage<NDArray> backGroup(int g, NDArray ownGradient) {
    TileStep step = steps.get(g);
    step.backward(ownGradient);
    return gradientSums(step).thenComposeAsync(done -> {
      NDArray inputGradient = step.inputGradient();
      if (g == 0) {
        return finishWeights().thenApply(summed -> inputGradient);
      }
      return haloGradients(g, inputGradient).thenComposeAsync(previous -> backGroup(g - 1, previous), djl);
    }, djl);
  }

  private CompletionStage<Void> gradientSums(TileStep step) {
    if (!step.waitsForGradientSums()) {
      return CompletableFuture.completedFuture(null);
    }
    double[] local = step.gradientSums();
    float[] sums = new float[local.length];
    for (int i = 0; i < local.length; i++) {
      sums[i] = (float) local[i];
    }
    return exchange.sum(sums).thenComposeAsync(total -> {
      double[] totals = new double[total.length];
      for (int i = 0; i < total.length; i++) {
        totals[i] = total[i];
      }
      step.resumeBackward(totals);
      return gradientSums(step);
    }, djl);
  }

  /**
   * The gradient of this tile's own output of group {@code g - 1}: what its own group-{@code g} tile
   * sends back to it, plus what every other tile that held part of it sends.
   */
  private CompletionStage<NDArray> haloGradients(int g, NDArray inputGradient) {
    int t = tile();
    TileGeometry.Piece held = geometries.get(g).input(t);
    float[][] toEach = new float[exchange.members()][];
    for (int o = 0; o < exchange.members(); o++) {
      Block b = sent(g, t, o, false);
      toEach[o] = o != t && !b.isEmpty() ? pack(List.of(cropInput(inputGradient, held, b))) : new float[0];
    }
    return exchange.swap(toEach, sentLengths(g, false, inputGradient)).thenApplyAsync(all -> {
      TileGeometry.Piece own = geometries.get(g - 1).owned(t);
      Span rows = own.outRows();
      Span columns = own.outColumns();
      NDArray gradient = manager.zeros(new Shape(inputGradient.getShape().get(0), inputGradient.getShape().get(1),
          rows.length(), columns.length()), inputGradient.getDataType());
      Block mine = block(own, held);
      if (!mine.isEmpty()) {
        NDIndex at = index(mine, rows, columns);
        gradient.set(at, gradient.get(at).add(cropInput(inputGradient, held, mine)));
      }
      for (int from = 0; from < exchange.members(); from++) {
        Block b = sent(g, from, t, false);
        if (from != t && !b.isEmpty()) {
          NDIndex at = index(b, rows, columns);
          gradient.set(at, gradient.get(at).add(unpack(all.get(from), 0, blockShape(b, inputGradient),
              inputGradient.getDataType())));
        }
      }
      return gradient;
    }, djl);
  }

  private CompletionStage<Void> finishWeights() {
    if (weightGradients == WeightGradients.SUMMED) {
      return sumWeights();
    }
    for (Parameter p : trained) {
      try (NDArray g = p.getArray().getGradient()) {
        g.muli(exchange.members());
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  /** Sums the tiled weights' gradients over the tile group, in place. */
  private CompletionStage<Void> sumWeights() {
    int length = 0;
    for (Parameter p : trained) {
      length += (int) p.getArray().getShape().size();
    }
    float[] local = new float[length];
    int offset = 0;
    for (Parameter p : trained) {
      try (NDArray g = p.getArray().getGradient()) {
        float[] values = g.toType(DataType.FLOAT32, false).toFloatArray();
        System.arraycopy(values, 0, local, offset, values.length);
        offset += values.length;
      }
    }
    return exchange.sum(local).thenAcceptAsync(total -> {
      int at = 0;
      for (Parameter p : trained) {
        try (NDArray g = p.getArray().getGradient()) {
          // In place through PyTorch: copyTo would point the gradient at the staging buffer's memory.
          NativeFloats.withView(manager, total, at, g.getShape(), view -> {
            g.subi(g);
            g.addi(view.toType(g.getDataType(), false));
          });
          at += (int) g.getShape().size();
        }
      }
    }, djl);
  }

  @Override
  public void close() {
    for (TileStep step : steps) {
      step.close();
    }
    manager.close();
  }

  // ---- blocks of feature maps

  /** Rows x columns of a feature map. */
  private record Block(Span rows, Span columns) {
    boolean isEmpty() {
      return rows.isEmpty() || columns.isEmpty();
    }
  }

  /** What tile {@code owner} owns of a map and another tile's input holds of it. */
  private static Block block(TileGeometry.Piece owner, TileGeometry.Piece input) {
    return new Block(owner.outRows().intersect(input.inRows().held()),
        owner.outColumns().intersect(input.inColumns().held()));
  }

  /** Floats of {@code b} over the batch and channels of {@code like}. */
  private static int area(Block b, NDArray like) {
    return b.isEmpty() ? 0 : Math.toIntExact(like.getShape().get(0) * like.getShape().get(1) * b.rows().length()
        * b.columns().length());
  }

  private static NDIndex index(Block b, Span rows, Span columns) {
    return new NDIndex(":, :, {}:{}, {}:{}", b.rows().from() - rows.from(), b.rows().to() - rows.from(),
        b.columns().from() - columns.from(), b.columns().to() - columns.from());
  }

  /** {@code block} of a tensor that holds the rows and columns a piece outputs. */
  private static NDArray crop(NDArray a, TileGeometry.Piece piece, Block block) {
    return a.get(index(block, piece.outRows(), piece.outColumns()));
  }

  /** {@code block}'s part of a tensor that holds a piece's input. */
  private static NDArray cropInput(NDArray a, TileGeometry.Piece piece, Block block) {
    return a.get(index(block, piece.inRows().held(), piece.inColumns().held()));
  }

  private static NDArray crop(NDArray batch, Span rows, Span columns) {
    return batch.get(new NDIndex(":, :, {}:{}, {}:{}", rows.from(), rows.to(), columns.from(), columns.to()));
  }

  private static float[] pack(List<NDArray> parts) {
    int length = 0;
    List<float[]> values = new ArrayList<>();
    for (NDArray p : parts) {
      float[] v = p.toType(DataType.FLOAT32, false).toFloatArray();
      values.add(v);
      length += v.length;
    }
    float[] packed = new float[length];
    int at = 0;
    for (float[] v : values) {
      System.arraycopy(v, 0, packed, at, v.length);
      at += v.length;
    }
    return packed;
  }

  private NDArray unpack(float[] packed, int offset, Shape shape, DataType type) {
    return NativeFloats.tensor(manager, packed, offset, shape).toType(type, false);
  }
}
