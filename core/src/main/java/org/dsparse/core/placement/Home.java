package org.dsparse.core.placement;

/**
 * The device chosen to host a shard.
 *
 * @param overBudget true if no device had room, so the shard goes where it overshoots the least;
 *     the caller warns naming the group and the device
 */
public record Home(String device, boolean overBudget) {}
