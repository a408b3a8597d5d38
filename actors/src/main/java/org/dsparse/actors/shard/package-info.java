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
 * LayerShard.storeWeights(system, "g3", version, weights);                // home, per refresh
 * LayerShard.fetchWeights(system, "g3", timeout).thenAccept(snapshot -> ...); // any node
 * }</pre>
 * Weights travel in parts of {@code dsparse.shard.weights-chunk-size}, each one Artery message, so
 * groups of any size fit Artery's frame; {@link org.dsparse.actors.shard.LayerShard.StoreWeights}
 * and {@link org.dsparse.actors.shard.LayerShard.GetWeights} carry them whole and suit small groups
 * or a shard on the same node.
 */
package org.dsparse.actors.shard;
