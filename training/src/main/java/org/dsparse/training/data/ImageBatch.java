package org.dsparse.training.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * One mini-batch: {@code images} float32 {@code [B, C, H, W]} normalized, {@code labels} float32
 * {@code [B]} holding class indices (the form DJL's {@code SoftmaxCrossEntropyLoss} takes with
 * sparse labels), and which samples of the dataset they are. Closing it frees both tensors.
 */
public record ImageBatch(NDArray images, NDArray labels, int[] indices) implements AutoCloseable {

  public NDList inputs() {
    return new NDList(images);
  }

  public NDList targets() {
    return new NDList(labels);
  }

  public int size() {
    return indices.length;
  }

  @Override
  public void close() {
    images.close();
    labels.close();
  }
}
