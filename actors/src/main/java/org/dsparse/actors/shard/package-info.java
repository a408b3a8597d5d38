/**
 * Layer-group shards under Pekko Cluster Sharding: one {@link org.dsparse.actors.shard.LayerShard}
 * entity per fused layer group (the layers sharing one updater set in the plan) holds the group's
 * latest weights and version on its home device, which leads the group's refresh Broadcast.
 *
 * <h2>Placement</h2>
 * Devices {@link org.dsparse.actors.shard.DeviceDirectory#announce announce} their budget and
 * predicted training peak; the job coordinator publishes each group's
 * {@link org.dsparse.core.placement.ShardDemand} (weight bytes, updaters). The
 * {@link org.dsparse.actors.shard.BudgetAwareAllocationStrategy} then puts each shard on a device
 * whose free budget fits it, preferring the group's updaters (see
 * {@link org.dsparse.core.placement.Placement}), and every {@code dsparse.shard.rebalance-interval}
 * moves shards whose home is over budget or is not an updater while an updater has room, such as
 * one that just joined. A member that leaves takes its shards with it: they restart on survivors
 * when next messaged, with the weights handed over if it left gracefully, empty if it crashed.
 *
 * <h2>Using it</h2>
 * <pre>{@code
 * LayerShard.init(system);                                        // every node, at start-up
 * DeviceDirectory.get(system).announce(new DeviceEntry(name, selfAddress, budget, reserved));
 * LayerShard.assign(system, new ShardDemand("g3", bytes, updaters), timeout)   // job coordinator
 *     .thenAccept(assigned -> ...assigned.homeDevice()...);
 * LayerShard.shardOf(system, "g3").tell(new LayerShard.StoreWeights(version, weights)); // home, per refresh
 * }</pre>
 * Weights travel as one Artery message, so a group's weights must fit
 * {@code pekko.remote.artery.advanced.maximum-frame-size}.
 */
package org.dsparse.actors.shard;
