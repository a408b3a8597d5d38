package org.dsparse.training.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import java.lang.reflect.Field;
import java.util.function.Function;

/**
 * Makes the ReLU6 blocks of a DJL network safe under gradient recording.
 *
 * <p>Why: DJL computes ReLU6 as {@code minimum(6, relu(x))} and makes the 6 a tensor over a Java
 * direct buffer (PyTorch's {@code from_blob}, no copy), which it closes as soon as the forward has
 * run. Under gradient recording PyTorch keeps that tensor for the backward pass, but its memory is
 * Java's: once the buffer is unreachable, a garbage collection between forward and backward frees
 * it, and the backward compares against whatever was allocated there since. The gradient through
 * every ReLU6 then comes out wrong. In MobileNetV2 training this showed as runs from the same seed
 * that parted at random steps, only in JVMs that collected garbage in the middle of a step.
 *
 * <p>Here every ReLU6 block computes {@code minimum(relu(x), six)} with a six that PyTorch owns and
 * the model's manager keeps for the model's life: the same values and gradients, nothing freed early.
 */
final class GcSafeRelu6 {
  /** The name DJL gives its ReLU6 blocks ({@code Activation.relu6Block()}). */
  static final String DJL_RELU6 = "ReLU6";

  /** The function a {@link LambdaBlock} applies; DJL offers no way to swap it. */
  private static final Field LAMBDA = lambdaField();

  private GcSafeRelu6() {}

  /**
   * Replaces the function of every ReLU6 block inside {@code network}; returns how many there were.
   *
   * @param manager the model's manager, which owns the constant six until the model is closed
   */
  static int install(Block network, NDManager manager) {
    NDArray six = NativeFloats.tensor(manager, new float[] {6f}, 0, new Shape());
    Function<NDList, NDList> relu6 = inputs -> new NDList(
        inputs.singletonOrThrow().getNDArrayInternal().relu().minimum(six));
    return replaceIn(network, relu6);
  }

  private static int replaceIn(Block block, Function<NDList, NDList> relu6) {
    if (block instanceof LambdaBlock lambda && DJL_RELU6.equals(lambda.getName())) {
      try {
        LAMBDA.set(lambda, relu6);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("cannot replace DJL's ReLU6 function", e);
      }
      return 1;
    }
    int replaced = 0;
    for (Block child : block.getChildren().values()) {
      replaced += replaceIn(child, relu6);
    }
    return replaced;
  }

  private static Field lambdaField() {
    try {
      Field field = LambdaBlock.class.getDeclaredField("lambda");
      field.setAccessible(true);
      return field;
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("this DJL's LambdaBlock has no field 'lambda' (DJL 0.35.1 has), so its "
          + "ReLU6 cannot be made safe under gradient recording; see GcSafeRelu6", e);
    }
  }
}
