package org.dsparse.training.tiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import java.lang.reflect.Field;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.dsparse.core.tiling.Span;
import org.dsparse.core.tiling.TileGeometry;
import org.dsparse.training.model.MaxPool;

/**
 * One tile of a fused group, one training step: forward on the tile's input (its own part and the
 * halo), backward from the gradient of the part of the output it owns. Its weight gradients add
 * into the layers' parameters; summed over the tiles (the tile group's AllReduce) they are the
 * untiled group's, and so is the sum of the tiles' input gradients, each added at its tile's
 * positions.
 *
 * <p>BatchNorm uses the batch statistics of the whole feature map, as the untiled layers do: the
 * tile stops at each BatchNorm with its per-channel sums over the positions it owns
 * ({@link #statistics}), the caller combines them over the tile group, and the tile goes on with
 * the totals ({@link #resume}). Backward likewise: BatchNorm's input gradient needs, per channel,
 * the sums over the whole map of the output's gradient and of its product with the normalized
 * input ({@link #gradientSums}); with the totals, each tile finishes the positions it owns. Why not
 * frozen statistics: exactly the same step as untiled is what lets a tile group stand in for one
 * device with no change to accuracy, at the price of two small exchanges (2 floats per channel) per
 * BatchNorm.
 *
 * <p>How the backward is cut: BatchNorm is computed outside the recorded graph (PyTorch's own
 * kernel, with the group's statistics), its output a new leaf; its backward is the textbook formula
 * with the group's sums. Below it the part of the graph is differentiated through {@code sum(input *
 * its gradient)}; a residual's kept input reaches its addition through a detached copy when a
 * BatchNorm lies between. So each part of the graph is differentiated once, after the sums it needs
 * are known, and holds only what PyTorch's own layers would.
 *
 * <p>Memory: every operation runs in an {@link NDScope}, and a tensor no later step reads is closed
 * as soon as the next one exists, so the tile holds what autograd saves and little more.
 */
public final class TileStep implements AutoCloseable {
  private static final Field EPSILON = field("epsilon");
  private static final Field MOMENTUM = field("momentum");

  private final TiledGroup group;
  private final TileGeometry geometry;
  private final int tile;
  private final boolean keepsRunningStatistics;
  private final NDManager manager;
  private final GradientCollector collector;

  /** A tensor and the positions of the feature map it holds. */
  private record Held(NDArray array, Span rows, Span columns, int segment) {}

  /**
   * Where the backward is cut: a tensor of {@code segment}, and the leaf later parts read it through
   * (its copy, or for a BatchNorm its output).
   */
  private record Cut(NDArray original, NDArray copy, int segment, NormCut norm) {}

  /** What a BatchNorm cut needs for its backward: the group's statistics and where this tile's parts lie. */
  private record NormCut(BatchNorm block, double[] mean, double[] inverseDeviation, Span rows, Span columns,
      Span ownedRows, Span ownedColumns, double count) {}

  private final List<Cut> cuts = new ArrayList<>();
  private final Deque<Held> skips = new ArrayDeque<>();
  private NDArray input;
  private Held x;
  private int next;
  private int segment;
  /** The BatchNorm the forward waits at, and its input. */
  private TiledGroup.Norm waitingNorm;
  private double[] localSums;
  private Held output;
  /** Backward: the segment to differentiate next, and the cut whose sums it waits for. */
  private int backwardSegment = -1;
  private Cut waitingCut;
  private double[] waitingSums;
  /** This tile's gradients of the waiting BatchNorm's shift and scale, per channel. */
  private NDArray[] waitingPartials;

  /**
   * @param collector the JVM's gradient collector, open for the step (one per JVM: tiles run in the
   *     same one when several share a JVM)
   * @param keepsRunningStatistics whether this tile moves the BatchNorms' running statistics (every
   *     device of a tile group does, on its own copy; tiles sharing one model in one JVM: one of them)
   */
  public TileStep(TiledGroup group, TileGeometry geometry, int tile, GradientCollector collector,
      boolean keepsRunningStatistics, NDManager parent) {
    this.group = group;
    this.geometry = geometry;
    this.tile = tile;
    this.collector = collector;
    this.keepsRunningStatistics = keepsRunningStatistics;
    this.manager = parent.newSubManager();
  }

  /** The input rows and columns this tile holds (and {@link #begin} takes). */
  public Span inputRows() {
    return geometry.input(tile).inRows().held();
  }

  public Span inputColumns() {
    return geometry.input(tile).inColumns().held();
  }

  /** Starts the forward on this tile's input: batch x channels x {@link #inputRows} x {@link #inputColumns}. */
  public void begin(NDArray tileInput) {
    Shape shape = tileInput.getShape();
    if (shape.dimension() != 4 || shape.get(2) != inputRows().length() || shape.get(3) != inputColumns().length()) {
      throw new IllegalArgumentException("tile " + tile + " takes rows " + inputRows() + " and columns "
          + inputColumns() + " of its input, got a tensor of " + shape);
    }
    input = tileInput.stopGradient();
    input.attach(manager);
    input.setRequiresGradient(true);
    x = new Held(input, inputRows(), inputColumns(), 0);
    next = 0;
    advance();
  }

  /** Whether the forward waits at a BatchNorm for the tile group's sums ({@link #statistics}). */
  public boolean waitsForStatistics() {
    return waitingNorm != null;
  }

  /**
   * This tile's per-channel sums over the positions it owns of the waiting BatchNorm's input: the
   * channels' sums, then their sums of squares, then the positions counted.
   */
  public double[] statistics() {
    if (waitingNorm == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for statistics");
    }
    return localSums.clone();
  }

  /** Goes on with the sums of {@link #statistics} over the tile group. */
  public void resume(double[] totals) {
    if (waitingNorm == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for statistics");
    }
    normalize(waitingNorm, totals);
    waitingNorm = null;
    advance();
  }

  /** The part of the group's output this tile owns, once the forward is done. */
  public NDArray output() {
    if (output == null) {
      throw new IllegalStateException("tile " + tile + ": the forward is not done");
    }
    return output.array();
  }

  /** Starts the backward from the gradient of {@link #output}. */
  public void backward(NDArray outputGradient) {
    if (output == null) {
      throw new IllegalStateException("tile " + tile + ": the forward is not done");
    }
    collector.backward(output.array().mul(outputGradient).sum());
    backwardSegment = segment - 1;
    backwardAdvance();
  }

  /** Whether the backward waits at a BatchNorm for the tile group's sums ({@link #gradientSums}). */
  public boolean waitsForGradientSums() {
    return waitingCut != null;
  }

  /**
   * This tile's part of the sums the waiting BatchNorm's backward needs, per channel: of the output's
   * gradient, then of its product with the normalized input (also this tile's gradients of its shift
   * and scale).
   */
  public double[] gradientSums() {
    if (waitingCut == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for gradient sums");
    }
    if (waitingSums == null) {
      waitingSums = normSums(waitingCut);
    }
    return waitingSums.clone();
  }

  /** Goes on with the sums of {@link #gradientSums} over the tile group. */
  public void resumeBackward(double[] totals) {
    if (waitingCut == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for gradient sums");
    }
    Cut cut = waitingCut;
    if (waitingSums == null) {
      waitingSums = normSums(cut);
    }
    waitingCut = null;
    waitingSums = null;
    differentiate(backwardSegment, cut, totals);
    for (NDArray partial : waitingPartials) {
      partial.close();
    }
    waitingPartials = null;
    backwardSegment--;
    backwardAdvance();
  }

  /** Whether forward and backward are done. */
  public boolean done() {
    return output != null && backwardSegment < 0 && waitingCut == null;
  }

  /** The gradient of the tile's input (batch x channels x {@link #inputRows} x {@link #inputColumns}). */
  public NDArray inputGradient() {
    if (!done()) {
      throw new IllegalStateException("tile " + tile + ": the backward is not done");
    }
    return input.getGradient();
  }

  @Override
  public void close() {
    manager.close();
  }

  // ---- forward

  private void advance() {
    List<TiledGroup.Op> ops = group.ops();
    while (next < ops.size()) {
      TiledGroup.Op op = ops.get(next++);
      Held before = x;
      try (NDScope scope = new NDScope()) {
        if (op instanceof TiledGroup.Spatial s) {
          x = spatial(s);
        } else if (op instanceof TiledGroup.Pointwise p) {
          x = new Held(forward(p.block(), x.array()), x.rows(), x.columns(), segment);
        } else if (op instanceof TiledGroup.SkipStart) {
          skips.push(x);
        } else if (op instanceof TiledGroup.SkipAdd) {
          x = skipAdd(skips.pop());
        } else if (op instanceof TiledGroup.Norm n) {
          waitingNorm = n;
          localSums = sums(n);
          return;
        }
        NDScope.unregister(x.array());
        for (Cut c : cuts) {
          NDScope.unregister(c.copy());
        }
      }
      retire(before);
    }
    TileGeometry.Piece last = geometry.owned(tile);
    try (NDScope scope = new NDScope()) {
      output = new Held(crop(x, last.outRows(), last.outColumns()), last.outRows(), last.outColumns(), segment);
      NDScope.unregister(output.array());
    }
  }

  /** Closes a tensor the tile no longer reads (autograd keeps what it saved of it). */
  private void retire(Held old) {
    if (old == null || old == x || old.array() == input || skips.contains(old)) {
      return;
    }
    for (Cut c : cuts) {
      if (c.original() == old.array() || c.copy() == old.array()) {
        return;
      }
    }
    old.array().close();
  }

  private Held spatial(TiledGroup.Spatial op) {
    TileGeometry.Piece piece = geometry.tile(tile).get(op.stage());
    NDArray in = crop(x, piece.inRows().held(), piece.inColumns().held());
    NDArray padded = in.pad(new Shape(piece.inColumns().padBefore(), piece.inColumns().padAfter(),
        piece.inRows().padBefore(), piece.inRows().padAfter()), 0);
    NDArray out;
    if (op.block() instanceof Conv2d conv) {
      NDArray bias = conv.isIncludeBias() ? conv.getParameters().get("bias").getArray() : null;
      out = Conv2d.conv2d(padded, conv.getParameters().get("weight").getArray(), bias, conv.getStride(),
          new Shape(0, 0), conv.getDilation(), conv.getGroups()).singletonOrThrow();
    } else {
      MaxPool pool = (MaxPool) op.block();
      out = Pool.maxPool2d(padded, new Shape(pool.kernel(), pool.kernel()), new Shape(pool.stride(), pool.stride()),
          new Shape(0, 0), false);
    }
    return new Held(out, piece.outRows(), piece.outColumns(), segment);
  }

  private Held skipAdd(Held skip) {
    NDArray kept = skip.segment() == segment ? skip.array() : cut(skip);
    Held keptHeld = new Held(kept, skip.rows(), skip.columns(), segment);
    if (!keptHeld.rows().contains(x.rows()) || !keptHeld.columns().contains(x.columns())) {
      throw new IllegalStateException("tile " + tile + ": a residual's input holds rows " + skip.rows() + " x "
          + skip.columns() + ", not its output's " + x.rows() + " x " + x.columns());
    }
    return new Held(x.array().add(crop(keptHeld, x.rows(), x.columns())), x.rows(), x.columns(), segment);
  }

  /** A detached copy of {@code held} for a later segment to read, registered as a cut. */
  private NDArray cut(Held held) {
    NDArray copy = held.array().stopGradient();
    copy.setRequiresGradient(true);
    cuts.add(new Cut(held.array(), copy, held.segment(), null));
    return copy;
  }

  private double[] sums(TiledGroup.Norm op) {
    TileGeometry.Piece piece = geometry.tile(tile).get(op.stage());
    NDArray owned = crop(x, piece.ownedRows(), piece.ownedColumns()).stopGradient().toType(DataType.FLOAT64, true);
    int[] axes = {0, 2, 3};
    double[] sum = owned.sum(axes).toDoubleArray();
    double[] squares = owned.square().sum(axes).toDoubleArray();
    int channels = sum.length;
    double[] all = new double[2 * channels + 1];
    System.arraycopy(sum, 0, all, 0, channels);
    System.arraycopy(squares, 0, all, channels, channels);
    all[2 * channels] = (double) owned.getShape().get(0) * owned.getShape().get(2) * owned.getShape().get(3);
    return all;
  }

  private void normalize(TiledGroup.Norm op, double[] totals) {
    int channels = (totals.length - 1) / 2;
    double count = totals[2 * channels];
    double[] mean = new double[channels];
    double[] variance = new double[channels];
    for (int c = 0; c < channels; c++) {
      mean[c] = totals[c] / count;
      variance[c] = Math.max(0, totals[channels + c] / count - mean[c] * mean[c]);
    }
    BatchNorm norm = op.block();
    float epsilon = read(EPSILON, norm);
    double[] inverse = new double[channels];
    for (int c = 0; c < channels; c++) {
      inverse[c] = 1 / Math.sqrt(variance[c] + epsilon);
    }
    NDArray z = x.array();
    TileGeometry.Piece piece = geometry.tile(tile).get(op.stage());
    NDArray y;
    try (NDScope scope = new NDScope()) {
      DataType type = z.getDataType();
      // PyTorch's kernel in inference mode normalizes with the statistics it is given: the group's.
      NDArray groupMean = manager.create(mean).toType(type, false);
      NDArray groupVariance = manager.create(variance).toType(type, false);
      y = BatchNorm.batchNorm(z.stopGradient(), groupMean, groupVariance,
          norm.getParameters().get("gamma").getArray().stopGradient(),
          norm.getParameters().get("beta").getArray().stopGradient(), 1, 0.1f, epsilon, false).singletonOrThrow();
      NDScope.unregister(y);
    }
    y.setRequiresGradient(true);
    cuts.add(new Cut(z, y, segment, new NormCut(norm, mean, inverse, x.rows(), x.columns(),
        piece.ownedRows(), piece.ownedColumns(), count)));
    segment++;
    x = new Held(y, x.rows(), x.columns(), segment);
    if (keepsRunningStatistics) {
      // As PyTorch keeps them: the variance unbiased; DJL's momentum is the weight of the old value.
      float momentum = read(MOMENTUM, norm);
      double unbias = count > 1 ? count / (count - 1) : 1;
      NDArray runningMean = norm.getParameters().get("runningMean").getArray();
      NDArray runningVariance = norm.getParameters().get("runningVar").getArray();
      double[] newMean = new double[channels];
      double[] newVariance = new double[channels];
      for (int c = 0; c < channels; c++) {
        newMean[c] = (1 - momentum) * mean[c];
        newVariance[c] = (1 - momentum) * variance[c] * unbias;
      }
      try (NDScope scope = new NDScope()) {
        runningMean.muli(momentum).addi(manager.create(newMean).toType(runningMean.getDataType(), false));
        runningVariance.muli(momentum).addi(manager.create(newVariance).toType(runningVariance.getDataType(), false));
      }
    }
  }

  // ---- backward

  /** Differentiates segments until one needs the tile group's sums or none is left. */
  private void backwardAdvance() {
    while (backwardSegment >= 0) {
      // The cut that opened segment backwardSegment + 1 is this segment's BatchNorm input, if any.
      Cut norm = null;
      for (Cut c : cuts) {
        if (c.segment() == backwardSegment && c.norm() != null) {
          norm = c;
        }
      }
      if (norm != null) {
        waitingCut = norm;
        return;
      }
      differentiate(backwardSegment, null, null);
      backwardSegment--;
    }
  }

  /** One backward through segment {@code s}, from every cut made of its tensors. */
  private void differentiate(int s, Cut norm, double[] totals) {
    try (NDScope scope = new NDScope()) {
      NDArray target = null;
      for (Cut c : cuts) {
        if (c.segment() != s) {
          continue;
        }
        NDArray gradient = c == norm ? normGradient(norm, totals) : c.copy().getGradient();
        NDArray part = c.original().mul(gradient).sum();
        if (c == norm) {
          BatchNorm block = norm.norm().block();
          NDArray beta = block.getParameters().get("beta").getArray();
          NDArray gamma = block.getParameters().get("gamma").getArray();
          part = part.add(beta.mul(waitingPartials[0].toType(beta.getDataType(), false)).sum())
              .add(gamma.mul(waitingPartials[1].toType(gamma.getDataType(), false)).sum());
        }
        target = target == null ? part : target.add(part);
      }
      if (target != null) {
        collector.backward(target);
      }
    }
  }

  /** The normalized input of a BatchNorm cut, {@code (x - mean) / deviation}, outside the graph. */
  private NDArray normalized(Cut cut) {
    NormCut n = cut.norm();
    Shape perChannel = new Shape(1, n.mean().length, 1, 1);
    DataType type = cut.original().getDataType();
    return cut.original().stopGradient().sub(manager.create(n.mean(), perChannel).toType(type, false))
        .mul(manager.create(n.inverseDeviation(), perChannel).toType(type, false));
  }

  /**
   * Per channel, over this tile's part: the sum of the output's gradient (the shift's gradient), then
   * of its product with the normalized input (the scale's). The segment's backward adds them to the
   * shift's and scale's gradients (through autograd, which creates them the first time).
   */
  private double[] normSums(Cut cut) {
    try (NDScope scope = new NDScope()) {
      NDArray dy = cut.copy().getGradient();
      int[] axes = {0, 2, 3};
      NDArray shift = dy.sum(axes);
      NDArray scale = dy.mul(normalized(cut)).sum(axes);
      NDScope.unregister(shift, scale);
      waitingPartials = new NDArray[] {shift, scale};
      double[] a = shift.toType(DataType.FLOAT64, false).toDoubleArray();
      double[] b = scale.toType(DataType.FLOAT64, false).toDoubleArray();
      double[] sums = new double[a.length * 2];
      System.arraycopy(a, 0, sums, 0, a.length);
      System.arraycopy(b, 0, sums, a.length, b.length);
      return sums;
    }
  }

  /**
   * The gradient of a BatchNorm's input over this tile's part, with the group's sums:
   * {@code gamma / deviation * (dy - (sum dy + xhat * sum dy xhat) / n)}, the sums' term only at the
   * positions this tile owns (each position takes it once in the group).
   */
  private NDArray normGradient(Cut cut, double[] totals) {
    NormCut n = cut.norm();
    int channels = totals.length / 2;
    double[] shift = new double[channels];
    double[] scale = new double[channels];
    for (int c = 0; c < channels; c++) {
      shift[c] = totals[c] / n.count();
      scale[c] = totals[channels + c] / n.count();
    }
    Shape perChannel = new Shape(1, channels, 1, 1);
    DataType type = cut.original().getDataType();
    NDArray owned = manager.zeros(new Shape(1, 1, n.rows().length(), n.columns().length()), type);
    owned.set(new NDIndex(":, :, {}:{}, {}:{}", n.ownedRows().from() - n.rows().from(),
        n.ownedRows().to() - n.rows().from(), n.ownedColumns().from() - n.columns().from(),
        n.ownedColumns().to() - n.columns().from()), 1f);
    NDArray shared = manager.create(shift, perChannel).toType(type, false)
        .add(normalized(cut).mul(manager.create(scale, perChannel).toType(type, false))).mul(owned);
    NDArray gammaOverDeviation = n.block().getParameters().get("gamma").getArray().stopGradient().reshape(perChannel)
        .mul(manager.create(n.inverseDeviation(), perChannel).toType(type, false));
    return cut.copy().getGradient().sub(shared).mul(gammaOverDeviation);
  }

  // ---- helpers

  private NDArray forward(Block block, NDArray in) {
    return block.forward(null, new NDList(in), true).singletonOrThrow();
  }

  /** The part {@code rows x columns} of {@code held}, which must hold it. */
  private NDArray crop(Held held, Span rows, Span columns) {
    if (!held.rows().contains(rows) || !held.columns().contains(columns)) {
      throw new IllegalStateException("tile " + tile + " holds rows " + held.rows() + " x " + held.columns()
          + " and needs " + rows + " x " + columns);
    }
    if (rows.equals(held.rows()) && columns.equals(held.columns())) {
      return held.array();
    }
    return held.array().get(new NDIndex(":, :, {}:{}, {}:{}", rows.from() - held.rows().from(),
        rows.to() - held.rows().from(), columns.from() - held.columns().from(),
        columns.to() - held.columns().from()));
  }

  private static Field field(String name) {
    try {
      Field f = BatchNorm.class.getDeclaredField(name);
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("DJL's BatchNorm has no field " + name, e);
    }
  }

  private static float read(Field f, BatchNorm norm) {
    try {
      return f.getFloat(norm);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot read BatchNorm." + f.getName(), e);
    }
  }
}
