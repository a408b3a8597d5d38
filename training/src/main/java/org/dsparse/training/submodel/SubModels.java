package org.dsparse.training.submodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import java.util.List;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.training.model.Layer;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;

/**
 * Sub-models of a plain CNN (Chen and Qin 2020): convolution layers, each with its filters'
 * weights, BatchNorm scale, shift and statistics, then a linear classifier on the globally pooled
 * last layer. A sub-model keeps some filters of every layer and some classes: each kept filter's
 * weights over the kept filters of the layer below, and the kept classes' classifier rows over the
 * kept filters of the last layer. Extraction copies them out of a full model; assembly puts trained
 * ones back, an element trained by several devices as the mean of their values weighted by their
 * data, an element no device trained as it was.
 *
 * <p>Every tensor of a layer has the layer's filters (or, in the classifier, the classes) on its
 * first axis; a weight's second axis is its input channels. That is what makes a plain CNN's
 * sub-models exact: a filter's output depends only on its own weights and the filters below it, and
 * BatchNorm normalizes each channel on its own.
 */
public final class SubModels {
  private SubModels() {}

  /** A sub-model trained on a device, and the weight of its values in assembly (its samples). */
  public record Trained(SubModelSpec spec, LayeredModel model, double weight) {
    public Trained {
      if (!(weight > 0)) {
        throw new IllegalArgumentException("a trained sub-model's weight must be positive, got " + weight);
      }
    }
  }

  /** Refuses a model that is not a plain CNN, or a spec that does not fit it, naming what differs. */
  public static void check(LayeredModel full, SubModelSpec spec) {
    int convolutions = full.layerCount() - 1;
    if (spec.filters().length != convolutions) {
      throw new IllegalArgumentException("a sub-model of " + full.name() + " keeps filters of " + convolutions
          + " layers, got " + spec.filters().length);
    }
    for (int l = 0; l < full.layerCount(); l++) {
      Layer layer = full.layer(l);
      boolean classifier = l == convolutions;
      int outputs = classifier ? full.classes() : layer.outputChannels();
      int[] kept = classifier ? spec.classes() : spec.filters()[l];
      if (kept[kept.length - 1] >= outputs) {
        throw new IllegalArgumentException("layer " + layer.name() + " has " + outputs + (classifier ? " classes" : " filters")
            + ", a sub-model keeps " + kept[kept.length - 1]);
      }
      int weights = 0;
      for (Parameter p : layer.tensors()) {
        Shape shape = p.getArray().getShape();
        if (shape.dimension() == 0 || shape.get(0) != outputs) {
          throw new IllegalArgumentException("layer " + layer.name() + " of " + full.name() + " is not plain: its tensor "
              + p.getName() + " " + shape + " does not have its " + outputs + " outputs first");
        }
        if (p.getType() == Parameter.Type.WEIGHT) {
          weights++;
          int dimensions = classifier ? 2 : 4;
          long inputs = l == 0 ? full.sampleShape().get(0) : full.layer(l - 1).outputChannels();
          if (shape.dimension() != dimensions || shape.get(1) != inputs) {
            throw new IllegalArgumentException("layer " + layer.name() + " of " + full.name() + " is not plain: weight "
                + shape + ", expected " + dimensions + " axes reading its " + inputs + " input channels");
          }
        }
      }
      if (weights != 1) {
        throw new IllegalArgumentException("layer " + layer.name() + " of " + full.name() + " has " + weights
            + " weight tensors, a plain CNN's layer one");
      }
    }
  }

  /** The sub-model {@code spec} of {@code full}, with the full model's weights. DJL thread. */
  public static LayeredModel extract(LayeredModel full, SubModelSpec spec, long seed) {
    check(full, spec);
    LayeredModel sub = Models.narrow(full.name(), full.sampleShape(), spec.widths(), spec.classes().length, seed);
    try {
      copyInto(full, spec, sub);
      return sub;
    } catch (RuntimeException e) {
      sub.close();
      throw e;
    }
  }

  /** Gives {@code sub}, the sub-model {@code spec} of {@code full}, the full model's weights. DJL thread. */
  public static void copyInto(LayeredModel full, SubModelSpec spec, LayeredModel sub) {
    for (int l = 0; l < full.layerCount(); l++) {
      int[] layer = {l};
      float[] source = full.exportWeights(layer);
      float[] target = new float[sub.weightLength(layer)];
      walk(full, spec, l, sub, (fullIndex, subIndex) -> target[subIndex] = source[fullIndex]);
      sub.importWeights(layer, target);
    }
  }

  /**
   * Puts trained sub-models' weights into {@code global}: each element the weighted mean of the
   * devices that trained it, the others as they were. DJL thread.
   */
  public static void assemble(LayeredModel global, List<Trained> trained) {
    for (Trained t : trained) {
      check(global, t.spec());
    }
    for (int l = 0; l < global.layerCount(); l++) {
      int[] layer = {l};
      float[] values = global.exportWeights(layer);
      double[] sums = new double[values.length];
      double[] weights = new double[values.length];
      for (Trained t : trained) {
        float[] part = t.model().exportWeights(layer);
        walk(global, t.spec(), l, t.model(), (fullIndex, subIndex) -> {
          sums[fullIndex] += t.weight() * part[subIndex];
          weights[fullIndex] += t.weight();
        });
      }
      for (int i = 0; i < values.length; i++) {
        if (weights[i] > 0) {
          values[i] = (float) (sums[i] / weights[i]);
        }
      }
      global.importWeights(layer, values);
    }
  }

  /**
   * One device's part of an assembly that travels as a sum: the global model's flat weights
   * ({@link LayeredModel#exportWeights(int[])} of every layer) with each element it trained times
   * {@code weight}, 0 elsewhere. The sum of every device's, divided by the sum of their
   * {@link #shares} in {@link #absorb}, is {@link #assemble}: an AllReduce assembles the model on
   * every device at once. DJL thread.
   */
  public static float[] contribution(LayeredModel global, SubModelSpec spec, LayeredModel sub, double weight) {
    return inGlobalLayout(global, spec, sub, (layer, subIndex) -> (float) (weight * layer[subIndex]));
  }

  /**
   * The denominators of {@link #contribution}: {@code weight} at each element of the global model
   * that the sub-model {@code spec} trains, 0 elsewhere. They depend on the plan alone, not on the
   * training, so devices sum them once per plan rather than with every assembly. DJL thread.
   */
  public static float[] shares(LayeredModel global, SubModelSpec spec, LayeredModel sub, double weight) {
    return inGlobalLayout(global, spec, sub, (layer, subIndex) -> (float) weight);
  }

  @FunctionalInterface
  private interface ElementValue {
    float of(float[] subLayer, int subIndex);
  }

  /**
   * The global model's flat weights of every layer, each element the sub-model holds set to
   * {@code value} of its counterpart in the sub-model's layer, the others 0.
   */
  private static float[] inGlobalLayout(LayeredModel global, SubModelSpec spec, LayeredModel sub,
      ElementValue value) {
    check(global, spec);
    float[] out = new float[global.weightLength(allLayers(global))];
    int offset = 0;
    for (int l = 0; l < global.layerCount(); l++) {
      float[] layer = sub.exportWeights(new int[] {l});
      int base = offset;
      walk(global, spec, l, sub, (fullIndex, subIndex) -> out[base + fullIndex] = value.of(layer, subIndex));
      offset += global.weightLength(new int[] {l});
    }
    return out;
  }

  /**
   * Takes in the sum of every device's {@link #contribution}, given the sum of their
   * {@link #shares}: each element some device trained becomes the weighted mean, the others stay as
   * they are. DJL thread.
   */
  public static void absorb(LayeredModel global, float[] summed, float[] summedShares) {
    int[] all = allLayers(global);
    float[] values = global.exportWeights(all);
    if (summed.length != values.length || summedShares.length != values.length) {
      throw new IllegalArgumentException("an assembly of " + global.name() + " needs " + values.length
          + " floats of weights and as many of shares, got " + summed.length + " and " + summedShares.length);
    }
    for (int i = 0; i < values.length; i++) {
      if (summedShares[i] > 0) {
        values[i] = summed[i] / summedShares[i];
      }
    }
    global.importWeights(all, values);
  }

  private static int[] allLayers(LayeredModel model) {
    return java.util.stream.IntStream.range(0, model.layerCount()).toArray();
  }

  @FunctionalInterface
  private interface Pair {
    void at(int fullIndex, int subIndex);
  }

  /**
   * Every element of layer {@code l} that the sub-model holds: its index in the full model's flat
   * weights of the layer ({@link LayeredModel#exportWeights(int[])}) and in the sub-model's.
   */
  private static void walk(LayeredModel full, SubModelSpec spec, int l, LayeredModel sub, Pair pair) {
    boolean classifier = l == full.layerCount() - 1;
    int[] outputs = classifier ? spec.classes() : spec.filters()[l];
    int[] inputs = l == 0 ? null : spec.filters()[l - 1];
    List<Parameter> fullTensors = full.layer(l).tensors();
    List<Parameter> subTensors = sub.layer(l).tensors();
    int fullOffset = 0;
    int subOffset = 0;
    for (int t = 0; t < fullTensors.size(); t++) {
      Shape fullShape = fullTensors.get(t).getArray().getShape();
      Shape subShape = subTensors.get(t).getArray().getShape();
      boolean weight = fullTensors.get(t).getType() == Parameter.Type.WEIGHT;
      long fullInputs = weight ? fullShape.get(1) : 1;
      long rest = weight ? fullShape.size() / fullShape.get(0) / fullInputs : fullShape.size() / fullShape.get(0);
      int[] in = weight && inputs != null ? inputs : null;
      int subInputs = weight ? (int) subShape.get(1) : 1;
      for (int o = 0; o < outputs.length; o++) {
        for (int i = 0; i < subInputs; i++) {
          long fullInput = in == null ? i : in[i];
          long fullStart = fullOffset + ((long) outputs[o] * fullInputs + fullInput) * rest;
          long subStart = subOffset + ((long) o * subInputs + i) * rest;
          for (int r = 0; r < rest; r++) {
            pair.at((int) (fullStart + r), (int) (subStart + r));
          }
        }
      }
      fullOffset += (int) fullShape.size();
      subOffset += (int) subShape.size();
    }
  }

  /**
   * Each filter's relevance to each class: its mean activation (after the layer's ReLU and pooling,
   * over positions and the class's samples) in inference mode, {@code [layer][filter][class]}; 0 for
   * a class without samples. A forward pass is all it takes, and a filter that a class's images
   * excite carries that class's features to the layers above (Chen and Qin score filters by their
   * contribution to each task). DJL thread.
   */
  public static double[][][] relevance(LayeredModel model, NDArray images, int[] labels) {
    int convolutions = model.layerCount() - 1;
    int classes = model.classes();
    double[][][] relevance = new double[convolutions][][];
    int[] counts = new int[classes];
    for (int label : labels) {
      counts[label]++;
    }
    ParameterStore store = new ParameterStore(model.manager(), false);
    NDList h = new NDList(images);
    try {
      for (int l = 0; l < convolutions; l++) {
        NDList next;
        try (NDScope scope = new NDScope()) {
          next = model.layer(l).block().forward(store, h, false);
          NDScope.unregister(next);
        }
        if (l > 0) {
          h.close();
        }
        h = next;
        NDArray output = h.singletonOrThrow();
        float[] means;
        // PyTorch's engine averages over one axis at a time.
        try (NDArray rows = output.mean(new int[] {3}); NDArray perChannel = rows.mean(new int[] {2})) {
          means = perChannel.toFloatArray();
        }
        int filters = (int) output.getShape().get(1);
        relevance[l] = new double[filters][classes];
        for (int n = 0; n < labels.length; n++) {
          for (int f = 0; f < filters; f++) {
            relevance[l][f][labels[n]] += means[n * filters + f];
          }
        }
        for (int f = 0; f < filters; f++) {
          for (int c = 0; c < classes; c++) {
            relevance[l][f][c] = counts[c] == 0 ? 0 : relevance[l][f][c] / counts[c];
          }
        }
      }
    } finally {
      if (h.head() != images) {
        h.close();
      }
    }
    return relevance;
  }

  /**
   * Multiply-adds of one sample's forward through the convolutions and the classifier of a plain CNN
   * of {@code widths} filters per layer and {@code classes} outputs, with the full model's geometry:
   * what a step's computation scales with (its backward about twice the forward).
   */
  public static long multiplyAdds(LayeredModel full, int[] widths, int classes) {
    long total = 0;
    long inputs = full.sampleShape().get(0);
    Shape shape = new Shape(1).addAll(full.sampleShape());
    for (int l = 0; l < widths.length; l++) {
      Layer layer = full.layer(l);
      Parameter weight = layer.trainable().stream().filter(p -> p.getType() == Parameter.Type.WEIGHT).findFirst()
          .orElseThrow();
      Shape kernel = weight.getArray().getShape();
      long window = kernel.size() / kernel.get(0) / kernel.get(1);
      Shape convolved = layer.block().getChildren().get(0).getValue().getOutputShapes(new Shape[] {shape})[0];
      long positions = convolved.get(2) * convolved.get(3);
      total += positions * widths[l] * inputs * window;
      inputs = widths[l];
      shape = layer.block().getOutputShapes(new Shape[] {shape})[0];
    }
    return total + inputs * classes;
  }
}
