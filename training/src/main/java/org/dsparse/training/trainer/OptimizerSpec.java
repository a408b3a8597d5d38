package org.dsparse.training.trainer;

import org.dsparse.core.memory.OptimizerKind;

/**
 * An optimizer by its settings, so that every device can build an identical one.
 *
 * @param kind SGD, SGD with momentum, or Adam
 * @param learningRate fixed step size
 * @param momentum momentum for {@link OptimizerKind#SGD_MOMENTUM}, ignored otherwise
 * @param weightDecay L2 penalty folded into the update
 */
public record OptimizerSpec(OptimizerKind kind, float learningRate, float momentum, float weightDecay) {

  public OptimizerSpec {
    if (!(learningRate > 0)) {
      throw new IllegalArgumentException("learning rate must be positive, got " + learningRate);
    }
    if (momentum < 0 || momentum >= 1) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    if (weightDecay < 0) {
      throw new IllegalArgumentException("weight decay must be non-negative, got " + weightDecay);
    }
  }

  /** Plain SGD: w - lr * g. */
  public static OptimizerSpec sgd(float learningRate) {
    return new OptimizerSpec(OptimizerKind.SGD, learningRate, 0, 0);
  }

  /** The same optimizer with another learning rate. */
  public OptimizerSpec withLearningRate(float other) {
    return new OptimizerSpec(kind, other, momentum, weightDecay);
  }

  /** The optimizer, its state open for checkpoints and hand-over. */
  public StatefulOptimizer build() {
    return new StatefulOptimizer(this);
  }
}
