package org.dsparse.training.tiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
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
 * ({@link #statistics}), the caller sums them over the tile group, and the tile goes on with the
 * totals ({@link #resume}). Backward likewise: the gradient reaching a BatchNorm's mean and variance
 * is a sum over every position of the map ({@link #gradientSums}); with the totals, each tile adds
 * their share to the positions it owns. Why not frozen statistics: exactly the same step as untiled
 * is what lets a tile group stand in for one device with no change to accuracy, at the price of two
 * small exchanges (2 floats per channel) per BatchNorm.
 *
 * <p>How the backward is cut: at every BatchNorm the forward goes on from a detached copy of its
 * input, and a residual's kept input reaches its addition through one as well when a BatchNorm lies
 * between; the part below is then differentiated through {@code sum(tensor * its copy's gradient)},
 * so each part of the graph is differentiated once, after the sums it needs are known.
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

  /** Where the backward is cut: a tensor of {@code segment}, and the copy later parts read it through. */
  private record Cut(NDArray original, NDArray copy, int segment, NormCut norm) {}

  /** What a BatchNorm cut needs to finish its input's gradient. */
  private record NormCut(NDArray mean, NDArray variance, NDArray input, Span rows, Span columns, Span ownedRows,
      Span ownedColumns, double count) {}

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
   * This tile's part of the gradient reaching the waiting BatchNorm's mean and variance, per
   * channel: the mean's, then the variance's.
   */
  public double[] gradientSums() {
    if (waitingCut == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for gradient sums");
    }
    double[] mean = waitingCut.norm().mean().getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
    double[] variance = waitingCut.norm().variance().getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
    double[] sums = new double[mean.length * 2];
    for (int c = 0; c < mean.length; c++) {
      sums[c] = mean[c];
      sums[mean.length + c] = variance[c];
    }
    return sums;
  }

  /** Goes on with the sums of {@link #gradientSums} over the tile group. */
  public void resumeBackward(double[] totals) {
    if (waitingCut == null) {
      throw new IllegalStateException("tile " + tile + " does not wait for gradient sums");
    }
    Cut cut = waitingCut;
    waitingCut = null;
    differentiate(backwardSegment, cut, totals);
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
    }
    TileGeometry.Piece last = geometry.owned(tile);
    output = new Held(crop(x, last.outRows(), last.outColumns()), last.outRows(), last.outColumns(), segment);
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
    NDArray owned = crop(x, piece.ownedRows(), piece.ownedColumns()).toType(DataType.FLOAT64, true);
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
    Shape perChannel = new Shape(1, channels, 1, 1);
    NDArray z = x.array();
    NDArray meanLeaf = manager.create(mean, perChannel).toType(z.getDataType(), false);
    NDArray varianceLeaf = manager.create(variance, perChannel).toType(z.getDataType(), false);
    meanLeaf.setRequiresGradient(true);
    varianceLeaf.setRequiresGradient(true);
    TileGeometry.Piece piece = geometry.tile(tile).get(op.stage());
    NDArray copy = z.stopGradient();
    copy.setRequiresGradient(true);
    cuts.add(new Cut(z, copy, segment, new NormCut(meanLeaf, varianceLeaf, copy, x.rows(), x.columns(),
        piece.ownedRows(), piece.ownedColumns(), count)));
    segment++;
    NDArray gamma = norm.getParameters().get("gamma").getArray().reshape(perChannel);
    NDArray beta = norm.getParameters().get("beta").getArray().reshape(perChannel);
    NDArray y = copy.sub(meanLeaf).div(varianceLeaf.add(epsilon).sqrt()).mul(gamma).add(beta);
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
      try (NDManager scratch = manager.newSubManager()) {
        runningMean.muli(momentum).addi(scratch.create(newMean).toType(runningMean.getDataType(), false));
        runningVariance.muli(momentum).addi(scratch.create(newVariance).toType(runningVariance.getDataType(), false));
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
    NDArray target = null;
    for (Cut c : cuts) {
      if (c.segment() != s) {
        continue;
      }
      NDArray gradient = c == norm ? normGradient(norm.norm(), totals) : c.copy().getGradient();
      NDArray part = c.original().mul(gradient).sum();
      target = target == null ? part : target.add(part);
    }
    if (target != null) {
      collector.backward(target);
    }
  }

  /**
   * The full gradient of a BatchNorm's input: what reached it directly, and at the positions this
   * tile owns, its share of the gradient through the mean and variance:
   * {@code dMean / n + dVariance * 2 (x - mean) / n}.
   */
  private NDArray normGradient(NormCut cut, double[] totals) {
    int channels = totals.length / 2;
    double[] dMean = new double[channels];
    double[] dVariance = new double[channels];
    for (int c = 0; c < channels; c++) {
      dMean[c] = totals[c] / cut.count();
      dVariance[c] = 2 * totals[channels + c] / cut.count();
    }
    Shape perChannel = new Shape(1, channels, 1, 1);
    NDArray input = cut.input();
    DataType type = input.getDataType();
    NDArray shared = manager.create(dMean, perChannel).toType(type, false).add(input.stopGradient()
        .sub(cut.mean().stopGradient()).mul(manager.create(dVariance, perChannel).toType(type, false)));
    NDArray owned = manager.zeros(new Shape(1, 1, cut.rows().length(), cut.columns().length()), type);
    owned.set(new NDIndex(":, :, {}:{}, {}:{}", cut.ownedRows().from() - cut.rows().from(),
        cut.ownedRows().to() - cut.rows().from(), cut.ownedColumns().from() - cut.columns().from(),
        cut.ownedColumns().to() - cut.columns().from()), 1f);
    return input.getGradient().add(shared.mul(owned));
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
