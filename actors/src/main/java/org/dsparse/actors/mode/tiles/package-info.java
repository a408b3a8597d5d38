/**
 * DSparse with a tile group (Rama et al. 2024, {@link org.dsparse.actors.mode.tiles.TileGroupMode}):
 * the group's choice and plan ({@link org.dsparse.actors.mode.tiles.TileGroupPlanning}), and a
 * member's backward over its tiles ({@link org.dsparse.actors.mode.tiles.TiledBackward}, the tiles'
 * exchanges through {@link org.dsparse.actors.mode.tiles.TileGroupExchange}), inside the
 * data-parallel step.
 */
package org.dsparse.actors.mode.tiles;
