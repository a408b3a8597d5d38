package org.dsparse.training.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import java.util.Arrays;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;

/**
 * Trains only the layers of an {@link UpdateSet}. One step is {@link #forwardBackward}, then any
 * number of {@link #exportGradients}/{@link #importGradients} (where a collective averages them), then
 * {@link #step}. Every method must run on the {@link DjlThread}.
 *
 * <p>Why the forward is split: layers before the first updated one run with training=false and
 * without recording, one {@link NDScope} per layer, so they keep no activations and their BatchNorm
 * statistics do not move; frozen layers after it run with training=false but recorded, so gradients
 * pass through them to the updated layers below without changing them.
 */
public final class SparseTrainer {
  private final LayeredModel model;
  private final UpdateSet update;
  private final Optimizer optimizer;
  private final Loss loss = Loss.softmaxCrossEntropyLoss();
  private final ParameterStore parameters;
  private boolean gradientsPending;

  public SparseTrainer(LayeredModel model, UpdateSet update, OptimizerSpec optimizer) {
    DjlThread.checkCurrent();
    if (update.layerCount() != model.layerCount()) {
      throw new IllegalArgumentException("update set covers " + update.layerCount() + " layers, model "
          + model.name() + " has " + model.layerCount());
    }
    this.model = model;
    this.update = update;
    this.optimizer = optimizer.build();
    this.parameters = new ParameterStore(model.manager(), false);
    for (int i = 0; i < model.layerCount(); i++) {
      for (Parameter p : model.layer(i).trainable()) {
        p.freeze(!update.isUpdated(i));
      }
    }
  }

  public LayeredModel model() {
    return model;
  }

  public UpdateSet update() {
    return update;
  }

  /**
   * Runs one batch forward and backward; afterwards the updated layers hold this batch's gradients.
   *
   * @param inputs a batch, NCHW
   * @param labels class indices, one per sample
   * @return the batch's mean loss
   */
  public float forwardBackward(NDArray inputs, NDArray labels) {
    DjlThread.checkCurrent();
    if (update.isEmpty()) {
      throw new IllegalStateException("no layer to update: the update set is empty");
    }
    if (gradientsPending) {
      throw new IllegalStateException("step() was not called after the previous backward");
    }
    int first = update.firstUpdated();
    NDList h = forwardFrozenPrefix(new NDList(inputs), first);
    try (NDScope recorded = new NDScope();
        GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      recorded.suppressNotUsedWarning();
      NDList x = h;
      for (int i = first; i < model.layerCount(); i++) {
        x = model.layer(i).block().forward(parameters, x, update.isUpdated(i));
      }
      NDArray lossValue = loss.evaluate(new NDList(labels), x);
      collector.backward(lossValue);
      gradientsPending = true;
      return lossValue.getFloat();
    } finally {
      if (first > 0) {
        h.close();
      }
    }
  }

  /** The frozen prefix, unrecorded and released layer by layer; returns the first updated layer's input. */
  private NDList forwardFrozenPrefix(NDList inputs, int first) {
    NDList h = inputs;
    for (int i = 0; i < first; i++) {
      try (NDScope scope = new NDScope()) {
        NDList out = model.layer(i).block().forward(parameters, h, false);
        NDScope.unregister(out);
        if (i > 0) {
          h.close();
        }
        h = out;
      }
    }
    return h;
  }

  /** Elements of {@link #exportGradients} for these layers. */
  public int gradientLength(int[] layerIndices) {
    long n = 0;
    for (int i : layerIndices) {
      n += model.layer(i).trainableParams();
    }
    return Math.toIntExact(n);
  }

  /**
   * The gradients of these layers as one flat buffer, layer after layer in the order given, each
   * layer's trainable parameters in their fixed order. Only updated layers have gradients; asking
   * for another is a plan violation and fails.
   */
  public float[] exportGradients(int[] layerIndices) {
    DjlThread.checkCurrent();
    requirePending();
    float[] flat = new float[gradientLength(layerIndices)];
    int offset = 0;
    for (int i : layerIndices) {
      for (Parameter p : updatedLayer(i).trainable()) {
        try (NDArray grad = p.getArray().getGradient()) {
          offset = LayeredModel.copyOut(grad, flat, offset);
        }
      }
    }
    return flat;
  }

  /** Replaces these layers' gradients with {@code flat} (laid out as {@link #exportGradients}). */
  public void importGradients(int[] layerIndices, float[] flat) {
    DjlThread.checkCurrent();
    requirePending();
    if (flat.length != gradientLength(layerIndices)) {
      throw new IllegalArgumentException("gradients for layers " + Arrays.toString(layerIndices)
          + " need " + gradientLength(layerIndices) + " floats, got " + flat.length);
    }
    int offset = 0;
    for (int i : layerIndices) {
      for (Parameter p : updatedLayer(i).trainable()) {
        try (NDArray grad = p.getArray().getGradient()) {
          offset = LayeredModel.copyIn(flat, offset, grad);
        }
      }
    }
  }

  /** Applies the optimizer to every updated layer with its current gradients, then clears them. */
  public void step() {
    DjlThread.checkCurrent();
    requirePending();
    for (int i = 0; i < model.layerCount(); i++) {
      if (!update.isUpdated(i)) {
        continue;
      }
      for (Parameter p : model.layer(i).trainable()) {
        try (NDArray grad = p.getArray().getGradient()) {
          optimizer.update(p.getId(), p.getArray(), grad);
          grad.subi(grad);
        }
      }
    }
    gradientsPending = false;
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
    gradientsPending = false;
  }

  /** Predicted classes for a batch, in inference mode. */
  public int correct(NDArray inputs, NDArray labels) {
    DjlThread.checkCurrent();
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDList x = new NDList(inputs);
      for (Layer layer : model.layers()) {
        x = layer.block().forward(parameters, x, false);
      }
      NDArray predicted = x.singletonOrThrow().argMax(1);
      return Math.toIntExact(
          predicted.eq(labels.toType(predicted.getDataType(), false)).sum().getLong());
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
