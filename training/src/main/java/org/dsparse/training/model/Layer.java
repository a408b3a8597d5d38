package org.dsparse.training.model;

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

  Layer(String name, Block block) {
    this.name = name;
    this.block = block;
  }

  /** Sorts parameters once the block is initialised (shapes are known only then). */
  void indexParameters() {
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

  public long trainableParams() {
    return trainable.stream().mapToLong(p -> p.getArray().size()).sum();
  }

  public long bufferElements() {
    return buffers.stream().mapToLong(p -> p.getArray().size()).sum();
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
