package org.dsparse.training.model;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.pooling.Pool;

/**
 * Max pooling with no padding, as DJL's {@code Pool.maxPool2dBlock} computes it, that says its
 * window: DJL's block is an anonymous function, which tiling cannot see through.
 */
public final class MaxPool extends LambdaBlock {
  private final int kernel;
  private final int stride;

  public MaxPool(int kernel, int stride) {
    super(inputs -> new NDList(Pool.maxPool2d(inputs.singletonOrThrow(), new Shape(kernel, kernel),
        new Shape(stride, stride), new Shape(0, 0), false)), "maxPool2d");
    this.kernel = kernel;
    this.stride = stride;
  }

  public int kernel() {
    return kernel;
  }

  public int stride() {
    return stride;
  }
}
