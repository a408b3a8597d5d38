package org.dsparse.training.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.initializer.XavierInitializer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.dsparse.core.memory.LayerCost;

/**
 * A network as an ordered list of named layers, initialised on one {@link NDManager}. All calls must
 * come from the JVM's DJL thread ({@link org.dsparse.training.trainer.DjlThread}).
 */
public final class LayeredModel implements AutoCloseable {
  private final String name;
  private final Shape sampleShape;
  private final int classes;
  private final List<Layer> layers;
  private final List<LayerCost> costs;
  private final NDManager manager;

  LayeredModel(String name, Shape sampleShape, int classes, List<Layer> layers, NDManager manager) {
    this.name = name;
    this.sampleShape = sampleShape;
    this.classes = classes;
    this.layers = Collections.unmodifiableList(new ArrayList<>(layers));
    this.manager = manager;
    this.costs = initialise();
    // Weights are imported one tensor at a time through the staging buffer: size it once for the
    // largest, rather than growing it (and leaving the outgrown buffers to the garbage collector).
    NativeFloats.reserve(layers.stream().flatMap(l -> l.tensors().stream())
        .mapToLong(p -> p.getArray().getShape().size()).max().orElse(0));
  }

  private List<LayerCost> initialise() {
    List<LayerCost> result = new ArrayList<>();
    Shape shape = new Shape(1).addAll(sampleShape);
    for (Layer layer : layers) {
      Block block = layer.block();
      block.setInitializer(new XavierInitializer(), Parameter.Type.WEIGHT);
      block.initialize(manager, DataType.FLOAT32, shape);
      ShapeWalk walk = new ShapeWalk();
      Shape out = walk.through(block, shape);
      layer.indexParameters((int) out.get(1));
      // Unrecorded, a layer holds its input (a residual adds it back at the end) and the operands
      // of its largest step.
      result.add(new LayerCost(layer.name(), layer.trainableParams(), layer.bufferElements(),
          shape.size() + walk.activations, out.size(), shape.size() + walk.peak, (int) out.get(1)));
      shape = out;
    }
    if (shape.size() != classes) {
      throw new IllegalStateException(name + ": output " + shape + " is not " + classes + " classes");
    }
    return Collections.unmodifiableList(result);
  }

  /** Counts the tensors one forward creates inside a block, from its leaves' shapes. */
  private static final class ShapeWalk {
    long activations;
    long peak;

    Shape through(Block block, Shape in) {
      if (block instanceof SequentialBlock) {
        Shape shape = in;
        for (var child : block.getChildren()) {
          shape = through(child.getValue(), shape);
        }
        return shape;
      }
      if (block instanceof ParallelBlock) {
        for (var branch : block.getChildren()) {
          through(branch.getValue(), in);
        }
        Shape out = block.getOutputShapes(new Shape[] {in})[0];
        activations += out.size();
        return out;
      }
      Shape out = block.getOutputShapes(new Shape[] {in})[0];
      activations += out.size();
      peak = Math.max(peak, in.size() + out.size());
      return out;
    }
  }

  public String name() {
    return name;
  }

  /** One sample's shape, without the batch axis (e.g. 1x28x28). */
  public Shape sampleShape() {
    return sampleShape;
  }

  public int classes() {
    return classes;
  }

  public List<Layer> layers() {
    return layers;
  }

  public int layerCount() {
    return layers.size();
  }

  public Layer layer(int index) {
    return layers.get(index);
  }

  /** The index of the layer called {@code layerName}; an error lists the names there are. */
  public int indexOf(String layerName) {
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i).name().equals(layerName)) {
        return i;
      }
    }
    throw new IllegalArgumentException("model " + name + " has no layer '" + layerName
        + "'; its layers are " + layers);
  }

  /** Each layer's memory cost, for the memory model and the planner. */
  public List<LayerCost> layerCosts() {
    return costs;
  }

  public long totalParams() {
    return layers.stream().mapToLong(Layer::trainableParams).sum();
  }

  public NDManager manager() {
    return manager;
  }

  /** Each of these layers whole, as slices. */
  public List<ChannelSlice> wholeLayers(int[] layerIndices) {
    List<ChannelSlice> slices = new ArrayList<>(layerIndices.length);
    for (int i : layerIndices) {
      slices.add(layer(i).whole(i));
    }
    return slices;
  }

  private Layer layerOf(ChannelSlice slice) {
    if (slice.layer() >= layers.size()) {
      throw new IllegalArgumentException("model " + name + " has " + layers.size() + " layers; no " + slice);
    }
    return layers.get(slice.layer());
  }

  /** Elements of {@link #exportWeights} for these layers. */
  public int weightLength(int[] layerIndices) {
    return weightLength(wholeLayers(layerIndices));
  }

  /** Elements of {@link #exportWeights} for these slices. */
  public int weightLength(List<ChannelSlice> slices) {
    return trainableLength(slices) + bufferLength(slices);
  }

  /** Trainable weights of these slices: the length of their gradients. */
  public int trainableLength(List<ChannelSlice> slices) {
    long n = 0;
    for (ChannelSlice s : slices) {
      n += layerOf(s).elements(layerOf(s).trainable(), s.from(), s.to());
    }
    return Math.toIntExact(n);
  }

  /** The layers' trainable weights then buffers, layer after layer, as one flat buffer. */
  public float[] exportWeights(int[] layerIndices) {
    return exportWeights(wholeLayers(layerIndices));
  }

  /**
   * The slices' trainable weights then buffers, slice after slice, as one flat buffer: of each
   * tensor, the rows the slice owns ({@link Layer#rows}).
   */
  public float[] exportWeights(List<ChannelSlice> slices) {
    float[] flat = new float[weightLength(slices)];
    int offset = 0;
    for (ChannelSlice s : slices) {
      Layer layer = layerOf(s);
      for (Parameter p : layer.tensors()) {
        offset = layer.rows(p, s.from(), s.to()).copyOut(p.getArray(), flat, offset);
      }
    }
    return flat;
  }

  /** Overwrites the layers' weights and buffers in place from a buffer laid out as {@link #exportWeights}. */
  public void importWeights(int[] layerIndices, float[] flat) {
    importWeights(wholeLayers(layerIndices), flat);
  }

  /** Overwrites the slices' weights and buffers in place from a buffer laid out as {@link #exportWeights}. */
  public void importWeights(List<ChannelSlice> slices, float[] flat) {
    if (flat.length != weightLength(slices)) {
      throw new IllegalArgumentException("weights for " + slices + " of " + name + " need "
          + weightLength(slices) + " floats, got " + flat.length);
    }
    int offset = 0;
    for (ChannelSlice s : slices) {
      Layer layer = layerOf(s);
      for (Parameter p : layer.tensors()) {
        offset = layer.rows(p, s.from(), s.to()).copyIn(flat, offset, p.getArray());
      }
    }
  }

  /** Elements of the layers' buffers (BatchNorm running statistics). */
  public int bufferLength(int[] layerIndices) {
    return bufferLength(wholeLayers(layerIndices));
  }

  /** Elements of the slices' buffers (BatchNorm running statistics). */
  public int bufferLength(List<ChannelSlice> slices) {
    long n = 0;
    for (ChannelSlice s : slices) {
      n += layerOf(s).elements(layerOf(s).buffers(), s.from(), s.to());
    }
    return Math.toIntExact(n);
  }

  /** Copies the layers' buffers into {@code flat} from {@code offset}; returns the offset after them. */
  public int exportBuffers(int[] layerIndices, float[] flat, int offset) {
    return exportBuffers(wholeLayers(layerIndices), flat, offset);
  }

  /** Copies the slices' buffers into {@code flat} from {@code offset}; returns the offset after them. */
  public int exportBuffers(List<ChannelSlice> slices, float[] flat, int offset) {
    for (ChannelSlice s : slices) {
      Layer layer = layerOf(s);
      for (Parameter p : layer.buffers()) {
        offset = layer.rows(p, s.from(), s.to()).copyOut(p.getArray(), flat, offset);
      }
    }
    return offset;
  }

  /** Overwrites the layers' buffers from {@code flat} at {@code offset}; returns the offset after them. */
  public int importBuffers(int[] layerIndices, float[] flat, int offset) {
    return importBuffers(wholeLayers(layerIndices), flat, offset);
  }

  /** Overwrites the slices' buffers from {@code flat} at {@code offset}; returns the offset after them. */
  public int importBuffers(List<ChannelSlice> slices, float[] flat, int offset) {
    for (ChannelSlice s : slices) {
      Layer layer = layerOf(s);
      for (Parameter p : layer.buffers()) {
        offset = layer.rows(p, s.from(), s.to()).copyIn(flat, offset, p.getArray());
      }
    }
    return offset;
  }

  @Override
  public void close() {
    manager.close();
  }
}
