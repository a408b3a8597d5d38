/**
 * Collectives on a Pekko cluster: one {@link org.dsparse.actors.collective.ProcessGroup} actor per
 * member and per process group runs chunked ring AllReduce and AllGather and pipelined chain Broadcast
 * (schedules in {@code org.dsparse.core.collective}), with deadlines, membership checks and
 * failure reporting that names the member at fault.
 *
 * <h2>Using it (e.g. from the Device actor)</h2>
 * <pre>{@code
 * GroupSpec spec = new GroupSpec("layer-7", List.of(addressOfRank0, addressOfRank1, addressOfRank2));
 * ActorRef<ProcessGroup.Command> group =
 *     context.spawn(ProcessGroup.create(spec), ProcessGroup.actorName(spec.groupId()));
 * group.tell(new ProcessGroup.AllReduce(step, gradients, ReduceOp.MEAN, replyTo));      // every member
 * group.tell(new ProcessGroup.AllGather(step, parts, replyTo));  // every member, its own part filled
 * group.tell(new ProcessGroup.Broadcast(step, ownerRank, weights, replyTo));            // owner
 * group.tell(ProcessGroup.Broadcast.receive(step, ownerRank, weights.length, replyTo)); // the others
 * }</pre>
 * Every member spawns its group actor from an equal {@link org.dsparse.actors.collective.GroupSpec}
 * (group id, member cluster addresses in rank order); a node may run any number of groups at once,
 * overlapping or not. The group actors find each other through the Receptionist under
 * {@link org.dsparse.actors.collective.ProcessGroup#serviceKey}; requests sent before that is done
 * wait for it (within the deadline). The reply is a {@code Completed} carrying the result buffer or
 * a {@code Failed} naming the member blamed. A step uses them through the asynchronous
 * {@link org.dsparse.actors.collective.Collectives} interface; threads outside the actor system
 * (benchmarks) can use {@link org.dsparse.actors.collective.BlockingCollectives}. Configuration lives in
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
 * <h2>Transports</h2>
 * Control messages (start announcements, aborts, link offers) always travel over the cluster
 * (Artery, serialized by {@code org.dsparse.protocol.collective.CollectiveSerializer}). The group
 * actor keeps sequencing, membership, deadlines and aborts; the data takes one of two paths behind
 * one interface ({@code DataPath}), chosen by {@code dsparse.collective.transport}:
 * <ul>
 *   <li>{@code tcp} (default, {@code TcpDataPath}): a bulk data link per neighbour pair and
 *       group. Each member listens on an ephemeral port of its cluster hostname and offers it to its ring
 *       predecessor over the cluster together with a random token ({@code DataLinkOffered}); the
 *       predecessor connects and presents group id, rank, offer generation and token, or is refused
 *       (counted as {@code NON_MEMBER}). Ring AllReduce and chain Broadcast both only send to the
 *       next rank, so one link per direction serves every collective of the group. A collective's
 *       frames are moved by one selector thread ({@code TcpCollectiveRun}) that reduces in place;
 *       TCP's window is the flow control. The I/O threads form one pool per JVM, not per group, and
 *       each stages frames through 64 KiB pieces whatever the chunk size: a small device belongs to
 *       several groups, and per-group threads with chunk-sized buffers cost it about 1 MiB of its
 *       measured training memory. The path starts the run, gives the actor a progress clock for
 *       the deadline, cancels the run and closes the links when the collective
 *       fails (a stream's position is then unknown), and re-offers fresh links, so the group carries
 *       on with the next collective. A broken link waits briefly (at most 500 ms) for the peer's
 *       abort to arrive over the cluster before blaming the neighbour at the other end.
 *   <li>{@code artery} ({@code ArteryDataPath}): every chunk is one Artery message ({@code Chunk},
 *       raw little-endian floats written straight into Artery's buffer), paced by credits ({@code ChunksConsumed}, window
 *       {@code chunks-in-flight}) because Artery drops messages when its queues are full.
 * </ul>
 * Why TCP is the default: Artery moves every chunk through its stream stages and its own threads,
 * which compete with the members for the cores; {@code bench/allreduce} measures both transports
 * side by side (the README has its figures).
 *
 * <p>What limits the TCP path on one machine is CPU. One loopback stream already keeps both cores
 * of a small machine busy (the kernel copies on the writer's and the reader's side), so the
 * textbook ring bound {@code 2(N-1)/N * bytes / B}, which gives every link its own rate B, cannot
 * be reached there: all links share the same cores. {@code bench/allreduce} therefore also has
 * plain sockets move each row's per-link volumes over all its links at once ({@code
 * rawLinksMillis}), and reports the CPU time the members' data threads spent per collective
 * ({@code cpuFloorMillis}). Beyond CPU come thread wake-ups: a member blocked on a peer that
 * started later or was descheduled; {@code tcp.poll-before-blocking} trades CPU for them and is off
 * by default, since it lost when the cores were contended.
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
