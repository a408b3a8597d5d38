/**
 * Layer-group shards under Pekko Cluster Sharding: one {@link org.dsparse.actors.shard.LayerShard}
 * entity per fused layer group (the layers sharing one updater set in the plan) holds the group's
 * committed state on its home device: its weights after the job's last committed step, versioned by
 * that step, and each slice's optimizer state when the home updates the group. The home stores it
 * from its own copy at every committed step; a device that joins a re-planned job reads it from every
 * group's shard at once ({@code StateFetcher} in the device package).
 *
 * <h2>Placement</h2>
 * Devices {@link org.dsparse.actors.shard.DeviceDirectory#announce announce} their budget and
 * predicted training peak; the job coordinator publishes each group's
 * {@link org.dsparse.core.placement.ShardDemand} (what the shard may hold, updaters). The
 * {@link org.dsparse.actors.shard.BudgetAwareAllocationStrategy} then puts each shard on a device
 * whose free budget fits it, preferring the group's updaters (see
 * {@link org.dsparse.core.placement.Placement}), and every {@code dsparse.shard.rebalance-interval}
 * moves shards whose home is over budget or is not an updater while an updater has room, such as
 * one that just joined. A member that leaves takes its shards with it: they restart on survivors
 * when next messaged, with their state handed over if it left gracefully, empty if it crashed.
 *
 * <h2>Using it</h2>
 * <pre>{@code
 * LayerShard.init(system);                                        // every node, at start-up
 * DeviceDirectory.get(system).announce(new DeviceEntry(name, selfAddress, budget, reserved));
 * LayerShard.assign(system, new ShardDemand("g3", bytes, updaters), timeout)   // job coordinator
 *     .thenAccept(assigned -> ...assigned.homeDevice()...);
 * LayerShard.storeState(system, "g3", step, weights, sliceStates, updates);    // home, per commit
 * LayerShard.fetchState(system, "g3", List.of(0, 2), timeout)     // any node: weights, slices 0 and 2's state
 *     .thenAccept(snapshot -> ...);
 * }</pre>
 * State travels in parts of {@code dsparse.shard.weights-chunk-size}, each one Artery message, so
 * groups of any size fit Artery's frame; {@link org.dsparse.actors.shard.LayerShard.StoreWeights}
 * and {@link org.dsparse.actors.shard.LayerShard.GetWeights} carry it whole and suit small groups
 * or a shard on the same node.
 */
package org.dsparse.actors.shard;
