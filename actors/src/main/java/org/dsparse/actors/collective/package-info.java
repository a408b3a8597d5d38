/**
 * Collectives on a Pekko cluster: one {@link org.dsparse.actors.collective.ProcessGroup} actor per
 * member and per process group runs chunked ring AllReduce and pipelined chain Broadcast over
 * Artery, with end-to-end flow control and deadlines.
 *
 * <h2>Using it (e.g. from the Device actor)</h2>
 * <pre>{@code
 * GroupSpec spec = new GroupSpec("layer-7", List.of(addressOfRank0, addressOfRank1, addressOfRank2));
 * ActorRef<ProcessGroup.Command> group =
 *     context.spawn(ProcessGroup.create(spec), ProcessGroup.actorName(spec.groupId()));
 * group.tell(new ProcessGroup.AllReduce(step, gradients, ReduceOp.MEAN, replyTo));      // every member
 * group.tell(new ProcessGroup.Broadcast(step, ownerRank, weights, replyTo));            // owner
 * group.tell(ProcessGroup.Broadcast.receive(step, ownerRank, weights.length, replyTo)); // the others
 * }</pre>
 * Every member spawns its group actor from an equal {@link org.dsparse.actors.collective.GroupSpec}
 * (group id, member cluster addresses in rank order); a node may run any number of groups at once,
 * overlapping or not. The group actors find each other through the Receptionist under
 * {@link org.dsparse.actors.collective.ProcessGroup#serviceKey}; requests sent before that is done
 * wait for it (within the deadline). The reply is a {@code Completed} carrying the result buffer or
 * a {@code Failed} naming the member blamed. Non-actor code (the trainer thread) can use the
 * blocking {@link org.dsparse.actors.collective.Collectives} helper. Configuration lives in
 * {@code dsparse.collective} ({@link org.dsparse.actors.collective.CollectiveSettings}).
 *
 * <h2>Rules</h2>
 * <ul>
 *   <li>Per group, sequence numbers increase strictly and every member issues the same collectives
 *       in the same order with the same length (and op / owner); a disagreement fails the collective
 *       on every member with an error naming the member that disagreed.
 *   <li>AllReduce works in place: the caller's array is the result and must not be touched until
 *       the reply arrives. Chunks sent are views of it, not copies; see {@code RunningCollective}.
 *   <li>A chunk is applied only if its group id, sequence, step and index are what this member
 *       expects next from its predecessor's group actor; everything else is counted by reason
 *       ({@link org.dsparse.core.collective.ChunkRejection}, see {@code GetStats}) and dropped.
 * </ul>
 *
 * <h2>Failure model</h2>
 * A member leaving the cluster (left, exited, downed, removed) or stopping its group actor fails
 * the running collective at once on every member that sees it, and every later collective of the
 * group; a group must be recreated with the new membership. A member that stops answering is
 * caught by the progress deadline: the first member to time out blames, in order, a member that
 * never registered, one that never started this collective, an unreachable one, else the neighbour
 * it waits on, and tells all peers ({@code CollectiveAborted}) so every survivor fails naming the
 * same member. No partial result is ever returned as complete.
 */
package org.dsparse.actors.collective;
