package org.dsparse.training.model;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.List;

/**
 * One unit of sparse update: a named block of the network. Its parameters split into trainable
 * weights (which get gradients) and buffers (BatchNorm running statistics), each in a fixed order
 * that defines the layer's flat layout on the wire.
 */
public final class Layer {
  private final String name;
  private final Block block;
  private final List<Parameter> trainable = new ArrayList<>();
  private final List<Parameter> buffers = new ArrayList<>();
  private int outputChannels;

  Layer(String name, Block block) {
    this.name = name;
    this.block = block;
  }

  /** Sorts parameters once the block is initialised (shapes are known only then). */
  void indexParameters(int outputChannels) {
    this.outputChannels = outputChannels;
    trainable.clear();
    buffers.clear();
    for (Parameter p : block.getParameters().values()) {
      if (isBuffer(p)) {
        buffers.add(p);
      } else {
        trainable.add(p);
      }
    }
  }

  static boolean isBuffer(Parameter p) {
    return p.getType() == Parameter.Type.RUNNING_MEAN || p.getType() == Parameter.Type.RUNNING_VAR;
  }

  public String name() {
    return name;
  }

  public Block block() {
    return block;
  }

  /** Weights that receive gradients, in wire order. */
  public List<Parameter> trainable() {
    return trainable;
  }

  /** Non-trainable state, in wire order after the trainable weights. */
  public List<Parameter> buffers() {
    return buffers;
  }

  /** Trainable weights then buffers: the layer's wire order in a weights refresh. */
  public List<Parameter> tensors() {
    List<Parameter> all = new ArrayList<>(trainable);
    all.addAll(buffers);
    return all;
  }

  public long trainableParams() {
    return trainable.stream().mapToLong(p -> p.getArray().size()).sum();
  }

  public long bufferElements() {
    return buffers.stream().mapToLong(p -> p.getArray().size()).sum();
  }

  /** Channels of the layer's output: the range a {@link ChannelSlice} of it is taken from. */
  public int outputChannels() {
    return outputChannels;
  }

  /** The slice {@code [0, outputChannels)}: the layer entire. */
  public ChannelSlice whole(int index) {
    return new ChannelSlice(index, 0, outputChannels);
  }

  /**
   * The rows of {@code tensor} (one of this layer's) that channels {@code [from, to)} own: of a first
   * axis of n rows, {@code [floor(from * n / C), floor(to * n / C))} for the layer's C output channels,
   * so that slices which partition the channels partition every tensor's rows. A 0-dimensional tensor
   * belongs whole to the slice holding channel 0.
   */
  public RowRange rows(Parameter tensor, int from, int to) {
    if (from < 0 || to <= from || to > outputChannels) {
      throw new IllegalArgumentException("layer " + name + " has " + outputChannels
          + " output channels; no slice [" + from + ", " + to + ")");
    }
    Shape shape = tensor.getArray().getShape();
    if (shape.dimension() == 0) {
      return new RowRange(0, from == 0 ? 1 : 0, 1, 1);
    }
    long n = shape.get(0);
    long rowElements = shape.size() / n;
    return new RowRange(from * n / outputChannels, to * n / outputChannels, n, rowElements);
  }

  /** Floats of {@code tensors} (this layer's) that channels {@code [from, to)} own. */
  long elements(List<Parameter> tensors, int from, int to) {
    return tensors.stream().mapToLong(p -> rows(p, from, to).elements()).sum();
  }

  /** Makes the layer's weights trainable or not; buffers never carry gradients. */
  void setTrainable(boolean trainable) {
    for (Parameter p : this.trainable) {
      p.freeze(!trainable);
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
