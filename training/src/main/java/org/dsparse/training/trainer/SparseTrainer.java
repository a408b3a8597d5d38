package org.dsparse.training.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.RowRange;

/**
 * Trains only the layers of an {@link UpdateSet}. One step is {@link #forwardBackward}, then any
 * number of {@link #exportGradients}/{@link #importGradients} (where a collective averages them), then
 * {@link #step}. Every method must run on the {@link DjlThread}.
 *
 * <p>Why the forward is split: layers before the first updated one run with training=false and
 * without recording, one {@link NDScope} per layer, so they keep no activations and their BatchNorm
 * statistics do not move; frozen layers after it run with training=false but recorded, so gradients
 * pass through them to the updated layers below without changing them. The frozen prefix may run
 * in micro-batches ({@code frozenPrefixMicroBatch} samples at a time): it keeps nothing for
 * backward and its BatchNorm uses running statistics, so each sample's output does not depend on
 * the others, and the prefix's working set, which sets a small device's peak, shrinks with the
 * micro-batch. Only the prefix's outputs are gathered into the whole batch.
 *
 * <p>A layer may be updated only in part, by {@link ChannelSlice}s of its output channels (the plan
 * split it between process groups). It trains like an updated layer, but the rows its slices do not
 * own are copied before the forward and put back after the step, so they change only when another
 * device's weights arrive.
 */
public final class SparseTrainer {
  private final LayeredModel model;
  private final UpdateSet update;
  private final List<ChannelSlice> slices;
  private final List<Outside> outside;
  /** The outside rows as they were before this step's forward, one copy per range of {@link #outside}. */
  private final List<NDArray> outsideBefore = new ArrayList<>();
  /** Each updated layer's optimizer: one per distinct learning rate, each keeping its own state. */
  private final StatefulOptimizer[] optimizers;
  private final Loss loss = Loss.softmaxCrossEntropyLoss();
  private final ParameterStore parameters;
  /** Samples per forward of the frozen prefix; 0 runs the whole batch at once. */
  private final int frozenPrefixMicroBatch;
  /** Samples per forward and backward of the recorded layers; 0 runs the whole batch at once. */
  private final int updateMicroBatch;
  private boolean gradientsPending;

  /** A trainer that updates the layers of {@code update} whole, the frozen prefix on the whole batch at once. */
  public SparseTrainer(LayeredModel model, UpdateSet update, OptimizerSpec optimizer) {
    this(model, wholeLayers(model, update), optimizer, 0);
  }

  /**
   * A trainer that updates these slices. A layer with any slice here is trained (its forward runs
   * in training mode and its gradient is computed), but {@link #step} changes only the rows of its
   * tensors that the slices own.
   *
   * @param frozenPrefixMicroBatch samples per forward of the frozen prefix (and of evaluation); 0
   *     for the whole batch at once
   */
  public SparseTrainer(LayeredModel model, List<ChannelSlice> updated, OptimizerSpec optimizer,
      int frozenPrefixMicroBatch) {
    this(model, updated, optimizer, frozenPrefixMicroBatch, Map.of());
  }

  /**
   * The same, with some layers' learning rates scaled.
   *
   * @param learningRateScales a positive multiplier of {@code optimizer}'s learning rate per layer
   *     index; layers not listed keep it
   */
  public SparseTrainer(LayeredModel model, List<ChannelSlice> updated, OptimizerSpec optimizer,
      int frozenPrefixMicroBatch, Map<Integer, Double> learningRateScales) {
    this(model, updated, optimizer, frozenPrefixMicroBatch, 0, learningRateScales);
  }

  /**
   * The same, the recorded layers (from the first updated one on) run forward and backward
   * {@code updateMicroBatch} samples at a time (0: the whole batch), each micro-batch's loss weighted
   * by its share of the batch, so that the gradients add up to the whole batch's. What it saves: the
   * activations kept for the backward are one micro-batch's. What changes numerically: a BatchNorm
   * of an updated layer normalises each micro-batch by that micro-batch's statistics, and its running
   * statistics move once per micro-batch; where BatchNorm is frozen the gradients are the whole
   * batch's up to the order of the float additions.
   */
  public SparseTrainer(LayeredModel model, List<ChannelSlice> updated, OptimizerSpec optimizer,
      int frozenPrefixMicroBatch, int updateMicroBatch, Map<Integer, Double> learningRateScales) {
    DjlThread.checkCurrent();
    if (frozenPrefixMicroBatch < 0) {
      throw new IllegalArgumentException("frozen-prefix micro-batch must be 0 (whole batch) or positive, got "
          + frozenPrefixMicroBatch);
    }
    if (updateMicroBatch < 0) {
      throw new IllegalArgumentException("update micro-batch must be 0 (whole batch) or positive, got "
          + updateMicroBatch);
    }
    this.frozenPrefixMicroBatch = frozenPrefixMicroBatch;
    this.updateMicroBatch = updateMicroBatch;
    this.model = model;
    this.slices = List.copyOf(updated);
    this.update = updateSet(model, slices);
    this.outside = outsideRows(model, slices);
    this.optimizers = optimizers(model, optimizer, learningRateScales);
    this.parameters = new ParameterStore(model.manager(), false);
    for (int i = 0; i < model.layerCount(); i++) {
      for (Parameter p : model.layer(i).trainable()) {
        p.freeze(!update.isUpdated(i));
      }
    }
  }

  private static StatefulOptimizer[] optimizers(LayeredModel model, OptimizerSpec spec, Map<Integer, Double> scales) {
    Map<Double, StatefulOptimizer> byScale = new HashMap<>();
    StatefulOptimizer[] optimizers = new StatefulOptimizer[model.layerCount()];
    for (int i = 0; i < optimizers.length; i++) {
      double scale = scales.getOrDefault(i, 1.0);
      if (!(scale > 0)) {
        throw new IllegalArgumentException("learning-rate scale of layer " + i + " must be positive, got " + scale);
      }
      optimizers[i] = byScale.computeIfAbsent(scale,
          s -> spec.withLearningRate((float) (spec.learningRate() * s)).build());
    }
    for (int layer : scales.keySet()) {
      if (layer < 0 || layer >= optimizers.length) {
        throw new IllegalArgumentException("learning-rate scale for layer " + layer + ", model " + model.name()
            + " has " + optimizers.length);
      }
    }
    return optimizers;
  }

  private static List<ChannelSlice> wholeLayers(LayeredModel model, UpdateSet update) {
    if (update.layerCount() != model.layerCount()) {
      throw new IllegalArgumentException("update set covers " + update.layerCount() + " layers, model "
          + model.name() + " has " + model.layerCount());
    }
    return model.wholeLayers(update.layers().stream().toArray());
  }

  /** Each layer's share of updated channels; refuses slices that overlap or leave the model. */
  private static UpdateSet updateSet(LayeredModel model, List<ChannelSlice> slices) {
    double[] fractions = new double[model.layerCount()];
    for (int a = 0; a < slices.size(); a++) {
      ChannelSlice s = slices.get(a);
      if (s.layer() >= model.layerCount() || s.to() > model.layer(s.layer()).outputChannels()) {
        throw new IllegalArgumentException("model " + model.name() + " has no " + s);
      }
      for (int b = 0; b < a; b++) {
        if (s.overlaps(slices.get(b))) {
          throw new IllegalArgumentException("updated slices " + slices.get(b) + " and " + s + " overlap");
        }
      }
      fractions[s.layer()] += (double) s.size() / model.layer(s.layer()).outputChannels();
    }
    return UpdateSet.ofFractions(fractions);
  }

  /** The rows of a partly updated layer's tensor that this device must leave as they are. */
  private record Outside(Parameter tensor, boolean trainable, List<RowRange> rows) {}

  private static List<Outside> outsideRows(LayeredModel model, List<ChannelSlice> slices) {
    List<Outside> result = new ArrayList<>();
    for (int i = 0; i < model.layerCount(); i++) {
      int layerIndex = i;
      List<ChannelSlice> own = slices.stream().filter(s -> s.layer() == layerIndex)
          .sorted(Comparator.comparingInt(ChannelSlice::from)).toList();
      Layer layer = model.layer(i);
      if (own.isEmpty() || own.stream().mapToInt(ChannelSlice::size).sum() == layer.outputChannels()) {
        continue;
      }
      for (Parameter p : layer.tensors()) {
        List<RowRange> gaps = new ArrayList<>();
        long next = 0;
        long rows = 0;
        long rowElements = 0;
        for (ChannelSlice s : own) {
          RowRange r = layer.rows(p, s.from(), s.to());
          rows = r.rows();
          rowElements = r.rowElements();
          if (r.from() > next) {
            gaps.add(new RowRange(next, r.from(), rows, rowElements));
          }
          next = Math.max(next, r.to());
        }
        if (next < rows) {
          gaps.add(new RowRange(next, rows, rows, rowElements));
        }
        if (!gaps.isEmpty()) {
          result.add(new Outside(p, layer.trainable().contains(p), gaps));
        }
      }
    }
    return result;
  }

  public LayeredModel model() {
    return model;
  }

  public UpdateSet update() {
    return update;
  }

  /** The channel slices this trainer updates. */
  public List<ChannelSlice> slices() {
    return slices;
  }

  /**
   * Runs one batch forward and backward; afterwards the updated layers hold this batch's gradients.
   *
   * @param inputs a batch, NCHW
   * @param labels class indices, one per sample
   * @return the batch's mean loss
   */
  public float forwardBackward(NDArray inputs, NDArray labels) {
    return forwardBackward(inputs, labels, new int[0], (segment, backwardNanos) -> { });
  }

  /** Hears that a segment of the backward is done. */
  @FunctionalInterface
  public interface SegmentDone {
    /**
     * @param segment its index
     * @param backwardNanos time since the backward began, the listeners' own time included
     */
    void accept(int segment, long backwardNanos);
  }

  /**
   * Runs one batch forward and backward, the backward cut into segments at layer indices
   * {@code cuts} (ascending): segment {@code s} holds the layers from cut {@code s - 1} (or the
   * first updated layer) up to cut {@code s} (or the last layer). As soon as a segment's layers
   * hold their final gradients, {@code segmentDone} gets its index and the time since the backward
   * began, on this thread, before the backward goes on below it: from the last segment down to
   * segment 0. Cuts at or below the
   * first updated layer make empty segments, reported all the same.
   *
   * <p>Why the gradients are the ones an uncut backward computes: at each cut the forward goes on
   * from a detached copy of the activation, and the segment below is then differentiated through
   * {@code sum(activation * gradient arriving at the copy)}, whose gradient with respect to the
   * activation is exactly that arriving gradient.
   *
   * @return the batch's mean loss
   */
  public float forwardBackward(NDArray inputs, NDArray labels, int[] cuts, SegmentDone segmentDone) {
    return forwardBackward(inputs, null, labels, cuts, segmentDone);
  }

  /**
   * The input of the first updated layer for a batch: the forward of the frozen layers below it.
   * It records nothing and changes no state, so it can run ahead of the step that uses it (while
   * the previous step's collectives move data), as long as no frozen layer changes in between. The
   * caller owns the result; {@code null} when no layer is frozen below the first updated one.
   */
  public NDList frozenPrefix(NDArray inputs) {
    DjlThread.checkCurrent();
    int first = update.firstUpdated();
    return first == 0 ? null : forwardFrozenPrefix(new NDList(inputs), first);
  }

  /**
   * {@link #forwardBackward(NDArray, NDArray, int[], SegmentDone)} with the frozen prefix's output
   * computed ahead by {@link #frozenPrefix} for the same {@code inputs} (the caller closes it), or
   * {@code null} to compute it now.
   */
  public float forwardBackward(NDArray inputs, NDList ahead, NDArray labels, int[] cuts, SegmentDone segmentDone) {
    DjlThread.checkCurrent();
    if (update.isEmpty()) {
      throw new IllegalStateException("no layer to update: the update set is empty");
    }
    if (gradientsPending) {
      throw new IllegalStateException("step() was not called after the previous backward");
    }
    // The forward moves BatchNorm statistics of every channel of a trained layer.
    keepOutsideRows();
    int first = update.firstUpdated();
    NDList h = ahead != null ? ahead : forwardFrozenPrefix(new NDList(inputs), first);
    try (GradientCollector collector = Recording.start()) {
      long samples = labels.getShape().get(0);
      if (updateMicroBatch == 0 || samples <= updateMicroBatch) {
        try (NDScope recorded = new NDScope()) {
          recorded.suppressNotUsedWarning();
          return recordedStep(first, h, labels, collector, cuts, segmentDone, 1);
        }
      }
      // Micro-batch by micro-batch, each one's graph freed before the next; the gradients add up in
      // the collector. Only the last one's backward reports segments: a segment's gradients are
      // final once it has passed, so overlap starts then.
      double lossSum = 0;
      for (long start = 0; start < samples; start += updateMicroBatch) {
        long end = Math.min(samples, start + updateMicroBatch);
        boolean last = end == samples;
        double share = (double) (end - start) / samples;
        try (NDScope recorded = new NDScope()) {
          recorded.suppressNotUsedWarning();
          NDList part = new NDList(h.size());
          for (NDArray a : h) {
            part.add(a.get(start + ":" + end));
          }
          lossSum += share * recordedStep(first, part, labels.get(start + ":" + end), collector,
              last ? cuts : new int[0], last ? segmentDone : (segment, nanos) -> { }, (float) share);
        }
      }
      return (float) lossSum;
    } finally {
      if (first > 0 && ahead == null) {
        h.close();
      }
    }
  }

  /**
   * The step of a device whose first {@code from} layers a tile group computes ({@code TiledTrainer}):
   * the layers from {@code from} on, forward from {@code input} (the tiles' gathered output, a leaf
   * that records its gradient) and backward into {@code collector}, which the tiled layers' forward
   * opened; segments as {@link #forwardBackward(NDArray, NDList, NDArray, int[], SegmentDone)}
   * reports them, those holding tiled layers with empty gradients here (the tiles' backward fills
   * them). Afterwards {@code input} holds its gradient.
   */
  public float forwardBackwardAbove(int from, NDArray input, NDArray labels, GradientCollector collector, int[] cuts,
      SegmentDone segmentDone) {
    DjlThread.checkCurrent();
    startRecordedElsewhere();
    return recordedStep(from, new NDList(input), labels, collector, cuts, segmentDone, 1);
  }

  /**
   * A step whose gradients the caller records (a tile group's member that is not its head: its
   * tiles' backward is the whole of its gradients); then {@link #step} as after a forward.
   */
  public void startRecordedElsewhere() {
    DjlThread.checkCurrent();
    if (gradientsPending) {
      throw new IllegalStateException("step() was not called after the previous backward");
    }
    keepOutsideRows();
    gradientsPending = true;
  }

  /**
   * Layers from {@code first} on, recorded into {@code collector}, then the backward segment by segment,
   * of the loss times {@code share} (a micro-batch's share of its batch); answers the unweighted loss.
   */
  private float recordedStep(int first, NDList h, NDArray labels, GradientCollector collector, int[] cuts,
      SegmentDone segmentDone, float share) {
    // Per cut above the first updated layer: the activation arriving there and its detached copy.
    List<NDList> arriving = new ArrayList<>();
    List<NDList> copies = new ArrayList<>();
    List<Integer> cutSegments = new ArrayList<>();
    NDList x = h;
    int nextCut = 0;
    for (int i = first; i < model.layerCount(); i++) {
      while (nextCut < cuts.length && cuts[nextCut] <= i) {
        if (cuts[nextCut] == i && i > first) {
          arriving.add(x);
          x = detachedCopy(x);
          copies.add(x);
          cutSegments.add(nextCut);
        }
        nextCut++;
      }
      x = model.layer(i).block().forward(parameters, x, update.isUpdated(i));
    }
    NDArray lossValue = loss.evaluate(new NDList(labels), x);
    long backwardStarted = System.nanoTime();
    collector.backward(share == 1 ? lossValue : lossValue.mul(share));
    gradientsPending = true;
    int done = cuts.length;
    for (int c = arriving.size() - 1; c >= 0; c--) {
      int below = cutSegments.get(c);
      for (; done > below; done--) {
        segmentDone.accept(done, System.nanoTime() - backwardStarted);
      }
      NDArray target = null;
      for (int j = 0; j < arriving.get(c).size(); j++) {
        NDArray part = arriving.get(c).get(j).mul(copies.get(c).get(j).getGradient()).sum();
        target = target == null ? part : target.add(part);
      }
      collector.backward(target);
    }
    for (; done >= 0; done--) {
      segmentDone.accept(done, System.nanoTime() - backwardStarted);
    }
    // A float64 model (exactness tests) reports its loss all the same.
    return lossValue.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
  }

  private static NDList detachedCopy(NDList activation) {
    NDList copy = new NDList(activation.size());
    for (NDArray a : activation) {
      NDArray detached = a.stopGradient();
      detached.setRequiresGradient(true);
      copy.add(detached);
    }
    return copy;
  }

  /**
   * The frozen prefix, unrecorded and released layer by layer, micro-batch by micro-batch; returns
   * the first updated layer's input for the whole batch. The caller closes it unless it is
   * {@code inputs} (an empty prefix).
   */
  private NDList forwardFrozenPrefix(NDList inputs, int first) {
    long samples = inputs.head().getShape().get(0);
    if (first == 0 || frozenPrefixMicroBatch == 0 || samples <= frozenPrefixMicroBatch) {
      return forwardLayers(inputs, first);
    }
    NDList outputs = new NDList();
    try {
      for (long start = 0; start < samples; start += frozenPrefixMicroBatch) {
        long end = Math.min(samples, start + frozenPrefixMicroBatch);
        NDList part;
        try (NDScope scope = new NDScope()) {
          part = new NDList(inputs.head().get(start + ":" + end));
          NDScope.unregister(part);
        }
        outputs.add(forwardLayers(part, first).singletonOrThrow());
        part.close();
      }
      try (NDScope scope = new NDScope()) {
        NDList whole = new NDList(NDArrays.concat(outputs, 0));
        NDScope.unregister(whole);
        return whole;
      }
    } finally {
      outputs.close();
    }
  }

  /** Layers {@code [0, end)} in inference mode, each one's intermediates freed before the next. */
  private NDList forwardLayers(NDList inputs, int end) {
    NDList h = inputs;
    for (int i = 0; i < end; i++) {
      try (NDScope scope = new NDScope()) {
        NDList out = model.layer(i).block().forward(parameters, h, false);
        NDScope.unregister(out);
        if (h != inputs) {
          h.close();
        }
        h = out;
      }
    }
    return h;
  }

  /** Elements of {@link #exportGradients} for these layers. */
  public int gradientLength(int[] layerIndices) {
    return model.trainableLength(model.wholeLayers(layerIndices));
  }

  /** Elements of {@link #exportGradients} for these slices. */
  public int gradientLength(List<ChannelSlice> slices) {
    return model.trainableLength(slices);
  }

  /** The gradients of these whole layers; see {@link #exportGradients(List)}. */
  public float[] exportGradients(int[] layerIndices) {
    return exportGradients(model.wholeLayers(layerIndices));
  }

  /**
   * The gradients of these slices as one flat buffer, slice after slice in the order given, of each
   * trainable tensor of the slice's layer (in its fixed order) the rows the slice owns. Only updated
   * layers have gradients; asking for another is a plan violation and fails.
   */
  public float[] exportGradients(List<ChannelSlice> slices) {
    DjlThread.checkCurrent();
    requirePending();
    float[] flat = new float[gradientLength(slices)];
    eachOwnedRows(slices, (slice, p, rows, offset) -> {
      try (NDArray grad = p.getArray().getGradient()) {
        return rows.copyOut(grad, flat, offset);
      }
    });
    return flat;
  }

  /** Copies between a flat buffer at {@code offset} and a tensor's rows; answers the next offset. */
  @FunctionalInterface
  private interface RowsCopy {
    int copy(ChannelSlice slice, Parameter tensor, RowRange rows, int offset);
  }

  /**
   * The layout every flat buffer of this trainer shares: slice after slice in the order given, each
   * trainable tensor of the slice's (updated) layer in its fixed order, the rows the slice owns.
   */
  private void eachOwnedRows(List<ChannelSlice> slices, RowsCopy copy) {
    int offset = 0;
    for (ChannelSlice s : slices) {
      Layer layer = updatedLayer(s.layer());
      for (Parameter p : layer.trainable()) {
        offset = copy.copy(s, p, layer.rows(p, s.from(), s.to()), offset);
      }
    }
  }

  /** Replaces these whole layers' gradients; see {@link #importGradients(List, float[])}. */
  public void importGradients(int[] layerIndices, float[] flat) {
    importGradients(model.wholeLayers(layerIndices), flat);
  }

  /** Replaces these slices' gradients with {@code flat} (laid out as {@link #exportGradients}). */
  public void importGradients(List<ChannelSlice> slices, float[] flat) {
    DjlThread.checkCurrent();
    requirePending();
    if (flat.length != gradientLength(slices)) {
      throw new IllegalArgumentException("gradients for " + slices + " need " + gradientLength(slices)
          + " floats, got " + flat.length);
    }
    eachOwnedRows(slices, (slice, p, rows, offset) -> {
      try (NDArray grad = p.getArray().getGradient()) {
        return rows.copyIn(flat, offset, grad);
      }
    });
  }

  /** Elements of {@link #exportOptimizerState} for these slices. */
  public int optimizerStateLength(List<ChannelSlice> slices) {
    return optimizers[0].stateTensors() * model.trainableLength(slices);
  }

  /**
   * The optimizer's state of these slices as one flat buffer: slice after slice in the order given,
   * of each trainable tensor of the slice's layer (in its fixed order), each state tensor's rows that
   * the slice owns (momentum; or Adam's mean, then its variance). Zeros before a layer's first step.
   * Only updated layers have state; asking for another is a plan violation and fails.
   */
  public float[] exportOptimizerState(List<ChannelSlice> slices) {
    DjlThread.checkCurrent();
    float[] flat = new float[optimizerStateLength(slices)];
    eachOwnedRows(slices, (slice, p, rows, offset) -> {
      for (NDArray state : optimizers[slice.layer()].state(p.getId(), p.getArray())) {
        offset = rows.copyOut(state, flat, offset);
      }
      return offset;
    });
    return flat;
  }

  /**
   * Replaces these slices' optimizer state with {@code flat} (laid out as
   * {@link #exportOptimizerState}), as it is after {@code updatesSoFar} steps.
   */
  public void importOptimizerState(List<ChannelSlice> slices, float[] flat, int updatesSoFar) {
    DjlThread.checkCurrent();
    if (flat.length != optimizerStateLength(slices)) {
      throw new IllegalArgumentException("optimizer state for " + slices + " needs " + optimizerStateLength(slices)
          + " floats, got " + flat.length);
    }
    eachOwnedRows(slices, (slice, p, rows, offset) -> {
      for (NDArray state : optimizers[slice.layer()].state(p.getId(), p.getArray())) {
        offset = rows.copyIn(flat, offset, state);
      }
      optimizers[slice.layer()].setUpdatesSoFar(p.getId(), updatesSoFar);
      return offset;
    });
  }

  /** Optimizer steps taken so far by the most-updated parameter (what Adam's bias correction counts). */
  public int optimizerUpdates() {
    int most = 0;
    for (StatefulOptimizer optimizer : optimizers) {
      most = Math.max(most, optimizer.updatesSoFar());
    }
    return most;
  }

  /**
   * Applies the optimizer to every updated layer with its current gradients, then clears them. Rows
   * outside this trainer's slices get a zero gradient and, whatever the optimizer does with its
   * state, end the step as they were before the forward.
   */
  public void step() {
    DjlThread.checkCurrent();
    requirePending();
    for (Outside o : outside) {
      if (o.trainable()) {
        try (NDArray grad = o.tensor().getArray().getGradient()) {
          o.rows().forEach(r -> r.zero(grad));
        }
      }
    }
    for (int i = 0; i < model.layerCount(); i++) {
      if (!update.isUpdated(i)) {
        continue;
      }
      for (Parameter p : model.layer(i).trainable()) {
        try (NDArray grad = p.getArray().getGradient()) {
          optimizers[i].update(p.getId(), p.getArray(), grad);
          grad.subi(grad);
        }
      }
    }
    restoreOutsideRows();
    gradientsPending = false;
  }

  private void keepOutsideRows() {
    forgetOutsideRows();
    for (Outside o : outside) {
      for (RowRange r : o.rows()) {
        NDArray copy = r.copyOf(o.tensor().getArray());
        NDScope.unregister(copy);
        outsideBefore.add(copy);
      }
    }
  }

  private void restoreOutsideRows() {
    int k = 0;
    for (Outside o : outside) {
      for (RowRange r : o.rows()) {
        r.restore(o.tensor().getArray(), outsideBefore.get(k++));
      }
    }
    forgetOutsideRows();
  }

  private void forgetOutsideRows() {
    outsideBefore.forEach(NDArray::close);
    outsideBefore.clear();
  }

  /** Drops the pending gradients without stepping (measuring them was the point). */
  public void discardGradients() {
    DjlThread.checkCurrent();
    requirePending();
    for (int i = 0; i < model.layerCount(); i++) {
      if (update.isUpdated(i)) {
        for (Parameter p : model.layer(i).trainable()) {
          try (NDArray grad = p.getArray().getGradient()) {
            grad.subi(grad);
          }
        }
      }
    }
    restoreOutsideRows();
    gradientsPending = false;
  }

  /**
   * Predicted classes for a batch, in inference mode, releasing each layer's output once the next
   * layer has run: evaluation then holds one layer's activations at a time, below any device's
   * training peak.
   */
  public int correct(NDArray inputs, NDArray labels) {
    DjlThread.checkCurrent();
    NDList logits = forwardFrozenPrefix(new NDList(inputs), model.layerCount());
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray predicted = logits.singletonOrThrow().argMax(1);
      return Math.toIntExact(
          predicted.eq(labels.toType(predicted.getDataType(), false)).sum().getLong());
    } finally {
      logits.close();
    }
  }

  private Layer updatedLayer(int index) {
    if (index < 0 || index >= model.layerCount()) {
      throw new IllegalArgumentException("no layer " + index + " in " + model.name());
    }
    if (!update.isUpdated(index)) {
      throw new IllegalStateException("layer " + model.layer(index).name()
          + " is not updated on this device (update set " + update + "): it has no gradient");
    }
    return model.layer(index);
  }

  private void requirePending() {
    if (!gradientsPending) {
      throw new IllegalStateException("no gradients: forwardBackward() has not run since the last step");
    }
  }
}
