/**
 * Tiled early layers (Rama, Threadgill and Gerstlauer's fused tile partitioning), pure geometry and
 * cost: a layer's sliding {@link org.dsparse.core.tiling.Window} along each axis and the input a
 * tile of its output reads, halo and border padding included; a fused group's tiles stage by stage
 * ({@link org.dsparse.core.tiling.TileGeometry}); and the cost model that picks the layer grouping
 * and tile grid ({@link org.dsparse.core.tiling.TilingCostModel}). The trainer runs the tiles and
 * the step moves their halos; nothing here knows about either.
 */
package org.dsparse.core.tiling;
