package org.dsparse.core.memory;

import java.util.Objects;

/**
 * What one layer (the unit of sparse update) costs in memory, independent of batch size.
 *
 * @param name the layer's name, unique within its model
 * @param trainableParams weights that receive gradients when the layer is updated
 * @param bufferElements non-trainable state such as BatchNorm running statistics
 * @param activationElementsPerSample elements the backward pass keeps for this layer when gradients
 *     flow through it: the layer's input and every intermediate output inside it
 * @param outputElementsPerSample elements of the layer's output
 * @param peakForwardElementsPerSample the largest pair of tensors alive at once while the layer runs
 *     forward without recording (input plus the largest intermediate), which bounds a frozen layer
 * @param outputChannels channels of the layer's output, the unit of channel-level sparse update
 */
public record LayerCost(
    String name,
    long trainableParams,
    long bufferElements,
    long activationElementsPerSample,
    long outputElementsPerSample,
    long peakForwardElementsPerSample,
    int outputChannels) {

  public LayerCost {
    Objects.requireNonNull(name, "name");
    if (trainableParams < 0 || bufferElements < 0 || activationElementsPerSample < 0
        || outputElementsPerSample < 0 || peakForwardElementsPerSample < 0 || outputChannels < 0) {
      throw new IllegalArgumentException("layer " + name + ": negative cost");
    }
  }
}
