package org.dsparse.training.submodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;

/**
 * The BatchNorm statistics of an assembled model, estimated on data that several devices hold apart.
 *
 * <p>Why: a sub-model's statistics describe its own activations, in which each filter reads only the
 * filters its sub-model kept below it, on its device's classes only. In the assembled model every
 * filter reads all of them, on all classes, so neither the sub-models' statistics nor their mean fit
 * it: evaluated with them, the assembled model classifies little better than chance. As slimmable
 * networks do after changing width (Yu and Huang 2019), the statistics are measured again on the
 * model as it is: a forward pass in training mode, each BatchNorm normalizing with its batch's
 * moments, records the per-channel mean of every BatchNorm's input and of its square; every device
 * adds its images' share and the sums give the population's mean and variance.
 */
public final class BatchNormStatistics {
  private BatchNormStatistics() {}

  /** Floats of a contribution of {@code model}: two per BatchNorm channel, and the sample count. */
  public static int length(LayeredModel model) {
    int length = 1;
    for (Layer layer : model.layers()) {
      for (BatchNorm norm : norms(layer.block())) {
        length += 2 * channels(norm);
      }
    }
    return length;
  }

  /**
   * Adds one batch's part to {@code sums} (laid out as {@link #length}): per BatchNorm, layer after
   * layer, each channel's input mean times the batch's samples, then each channel's mean square times
   * them; last the samples. DJL thread.
   */
  public static void accumulate(LayeredModel model, NDArray images, double[] sums) {
    if (sums.length != length(model)) {
      throw new IllegalArgumentException("BatchNorm sums of " + model.name() + " need " + length(model)
          + " values, got " + sums.length);
    }
    long samples = images.getShape().get(0);
    ParameterStore store = new ParameterStore(model.manager(), false);
    int[] offset = {0};
    NDList h = new NDList(images);
    try {
      for (Layer layer : model.layers()) {
        if (norms(layer.block()).isEmpty()) {
          break;
        }
        NDList next;
        try (NDScope scope = new NDScope()) {
          next = forward(layer.block(), store, h, samples, sums, offset);
          NDScope.unregister(next);
        }
        if (h.head() != images) {
          h.close();
        }
        h = next;
      }
    } finally {
      if (h.head() != images) {
        h.close();
      }
    }
    sums[sums.length - 1] += samples;
  }

  private static NDList forward(Block block, ParameterStore store, NDList h, long samples, double[] sums, int[] offset) {
    if (block instanceof BatchNorm norm) {
      NDArray x = h.singletonOrThrow();
      int c = channels(norm);
      float[] mean = channelMeans(x);
      float[] square;
      try (NDArray squared = x.square()) {
        square = channelMeans(squared);
      }
      for (int i = 0; i < c; i++) {
        sums[offset[0] + i] += samples * (double) mean[i];
        sums[offset[0] + c + i] += samples * (double) square[i];
      }
      offset[0] += 2 * c;
      // Normalized with the batch's own moments, as in training: the layers above see what they will.
      return block.forward(store, h, true);
    }
    if (block.getChildren().isEmpty()) {
      return block.forward(store, h, false);
    }
    for (var child : block.getChildren().values()) {
      h = forward(child, store, h, samples, sums, offset);
    }
    return h;
  }

  /** Per channel, the mean over samples and positions of an NCHW tensor (one axis at a time, as PyTorch's engine takes them). */
  private static float[] channelMeans(NDArray x) {
    try (NDArray rows = x.mean(new int[] {3}); NDArray columns = rows.mean(new int[] {2});
        NDArray channels = columns.mean(new int[] {0})) {
      return channels.toFloatArray();
    }
  }

  /**
   * Sets every BatchNorm's running mean and variance from the sum of every device's
   * {@link #accumulate} sums: the mean, and the mean square less the squared mean. DJL thread.
   */
  public static void absorb(LayeredModel model, float[] summed) {
    if (summed.length != length(model)) {
      throw new IllegalArgumentException("BatchNorm statistics of " + model.name() + " need " + length(model)
          + " floats, got " + summed.length);
    }
    double samples = summed[summed.length - 1];
    if (!(samples > 0)) {
      throw new IllegalArgumentException("BatchNorm statistics of " + model.name() + " from " + samples + " samples");
    }
    int offset = 0;
    for (Layer layer : model.layers()) {
      for (BatchNorm norm : norms(layer.block())) {
        int c = channels(norm);
        float[] mean = new float[c];
        float[] variance = new float[c];
        for (int i = 0; i < c; i++) {
          double m = summed[offset + i] / samples;
          mean[i] = (float) m;
          variance[i] = (float) Math.max(0, summed[offset + c + i] / samples - m * m);
        }
        offset += 2 * c;
        set(layer, norm.getParameters().get("runningMean"), mean);
        set(layer, norm.getParameters().get("runningVar"), variance);
      }
    }
  }

  private static void set(Layer layer, Parameter statistic, float[] values) {
    layer.rows(statistic, 0, values.length).copyIn(values, 0, statistic.getArray());
  }

  private static int channels(BatchNorm norm) {
    return Math.toIntExact(norm.getParameters().get("runningMean").getArray().getShape().get(0));
  }

  private static List<BatchNorm> norms(Block block) {
    List<BatchNorm> found = new ArrayList<>();
    if (block instanceof BatchNorm norm) {
      found.add(norm);
    }
    for (var child : block.getChildren().values()) {
      found.addAll(norms(child));
    }
    return found;
  }
}
