/**
 * Tiled training of a model's first layers on DJL tensors, after the geometry and cost model of
 * {@code org.dsparse.core.tiling}: {@link org.dsparse.training.tiling.TiledGroup} reads a fused group
 * of layers as the operations a tile runs, {@link org.dsparse.training.tiling.TileStep} runs one
 * tile forward and backward with the whole feature map's BatchNorm statistics, {@link
 * org.dsparse.training.tiling.TiledStep} runs one member's tiles of consecutive groups and moves the
 * halos, and {@link org.dsparse.training.tiling.TiledTrainer} puts it in front of a {@link
 * org.dsparse.training.trainer.SparseTrainer} for the rest of the network.
 *
 * <p>Whatever a tile group's members exchange goes through the {@link
 * org.dsparse.training.tiling.TileExchange} interface, which the actors module implements over its
 * collectives: this package must not depend on Pekko, the protocol or the actors module, and no
 * other package of this module may depend on it (it sits on top of {@code model} and {@code
 * trainer}).
 */
package org.dsparse.training.tiling;
