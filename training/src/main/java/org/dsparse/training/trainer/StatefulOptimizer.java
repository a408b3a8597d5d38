package org.dsparse.training.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.optimizer.Optimizer;
import java.util.HashMap;
import java.util.Map;
import org.dsparse.core.memory.OptimizerKind;

/**
 * SGD, SGD with momentum and Adam computing exactly what DJL's {@code Sgd} and {@code Adam} compute
 * (the same native updates with the same arguments, so the same numbers bit for bit), with their
 * per-parameter state in the open: a checkpoint can hold it, and a device that takes a layer over
 * can continue from it. DJL's own optimizers keep that state private.
 */
public final class StatefulOptimizer extends Optimizer {
  /** DJL's Adam defaults. */
  private static final float BETA1 = 0.9f;
  private static final float BETA2 = 0.999f;
  private static final float EPSILON = 1e-8f;

  private final OptimizerKind kind;
  private final float learningRate;
  private final float momentum;
  /** By parameter id: its state tensors (momentum; or Adam's mean and variance), shaped as the parameter. */
  private final Map<String, NDArray[]> states = new HashMap<>();
  /** By parameter id: its updates so far. */
  private final Map<String, Integer> updates = new HashMap<>();
  /** The most updates of any parameter, which Adam's bias correction counts (as DJL's does). */
  private int latestUpdate;

  StatefulOptimizer(OptimizerSpec spec) {
    super(new Settings().optWeightDecays(spec.weightDecay()));
    this.kind = spec.kind();
    this.learningRate = spec.learningRate();
    this.momentum = spec.kind() == OptimizerKind.SGD_MOMENTUM ? spec.momentum() : 0;
  }

  private static final class Settings extends OptimizerBuilder<Settings> {
    @Override
    protected Settings self() {
      return this;
    }
  }

  /** State tensors per parameter: none for plain SGD, one for momentum, two for Adam. */
  public int stateTensors() {
    return switch (kind) {
      case SGD -> 0;
      case SGD_MOMENTUM -> 1;
      case ADAM -> 2;
    };
  }

  @Override
  public void update(String parameterId, NDArray weight, NDArray grad) {
    int t = updates.merge(parameterId, 1, Integer::sum);
    latestUpdate = Math.max(latestUpdate, t);
    float weightDecay = getWeightDecay();
    NDList weights = new NDList(weight);
    switch (kind) {
      case SGD -> weight.getNDArrayInternal().sgdUpdate(new NDList(weight, grad), weights, learningRate, weightDecay,
          rescaleGrad, clipGrad, 0, true);
      case SGD_MOMENTUM -> weight.getNDArrayInternal().sgdUpdate(
          new NDList(weight, grad, state(parameterId, weight)[0]), weights, learningRate, weightDecay, rescaleGrad,
          clipGrad, momentum, true);
      case ADAM -> {
        double coef1 = 1.0 - Math.pow(BETA1, latestUpdate);
        double coef2 = 1.0 - Math.pow(BETA2, latestUpdate);
        float corrected = (float) (learningRate * Math.sqrt(coef2) / coef1);
        NDArray[] moments = state(parameterId, weight);
        // The engine takes the plain rate, then the bias-corrected one.
        weight.getNDArrayInternal().adamUpdate(new NDList(weight, grad, moments[0], moments[1]), weights, learningRate,
            corrected, weightDecay, rescaleGrad, clipGrad, BETA1, BETA2, EPSILON, true, false);
      }
    }
  }

  /** The state tensors of a parameter, zeros until it is first updated or imported. */
  NDArray[] state(String parameterId, NDArray weight) {
    return states.computeIfAbsent(parameterId, id -> {
      NDArray[] zeros = new NDArray[stateTensors()];
      for (int i = 0; i < zeros.length; i++) {
        zeros[i] = weight.zerosLike();
        // Owned by this optimizer for the model's life, not by whatever scope is open now.
        zeros[i].detach();
      }
      return zeros;
    });
  }

  /** Updates so far of the parameter that has had the most. */
  public int updatesSoFar() {
    return latestUpdate;
  }

  /** Continues as if every parameter had had {@code count} updates (Adam's bias correction). */
  void setUpdatesSoFar(String parameterId, int count) {
    if (count < 0) {
      throw new IllegalArgumentException("updates so far must not be negative, got " + count);
    }
    updates.put(parameterId, count);
    latestUpdate = Math.max(latestUpdate, count);
  }
}
