/**
 * Networks as ordered lists of named layers, the unit of sparse update: DJL's MobileNetV2 split into
 * stem, inverted-residual blocks, last 1x1 conv and classifier, and a small CNN for fast tests. A
 * {@link org.dsparse.training.model.LayeredModel} also derives each layer's
 * {@link org.dsparse.core.memory.LayerCost} from its real tensor shapes.
 */
package org.dsparse.training.model;
