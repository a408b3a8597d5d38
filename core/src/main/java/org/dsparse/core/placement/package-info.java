/**
 * Where each fused layer group's shard (its current weights and version) lives: on a device whose
 * free memory fits the group's weights, preferably one of the group's updaters, which hold the
 * freshest weights and so lead the group's refresh Broadcast without an extra hop.
 *
 * <p>{@link org.dsparse.core.placement.Placement#chooseHome} picks a home for one
 * {@link org.dsparse.core.placement.ShardDemand}; {@link org.dsparse.core.placement.Placement#rebalance}
 * lists the {@link org.dsparse.core.placement.Move}s that repair an allocation after devices join or
 * leave. Pure Java and deterministic: the same input always yields the same answer.
 */
package org.dsparse.core.placement;
