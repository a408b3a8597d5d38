/**
 * Networks as ordered lists of named layers, the unit of sparse update: DJL's MobileNetV2 split into
 * stem, inverted-residual blocks, last 1x1 conv and classifier, and a small CNN for fast tests. A
 * {@link org.dsparse.training.model.LayeredModel} also derives each layer's
 * {@link org.dsparse.core.memory.LayerCost} from its real tensor shapes. A
 * {@link org.dsparse.training.model.ChannelSlice} names part of a layer's output channels, and
 * weights, buffers and gradients move in and out of a model slice by slice as
 * {@link org.dsparse.training.model.RowRange}s of each tensor.
 */
package org.dsparse.training.model;
