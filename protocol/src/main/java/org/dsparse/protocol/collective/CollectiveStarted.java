package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * {@code from} started collective {@code sequence}: sent to every member so that, when a collective
 * stalls, each survivor can name the member that never joined it, and so that members disagreeing
 * on kind, length or owner fail at once with a clear error instead of timing out.
 *
 * @param ownerRank the Broadcast owner's rank, or -1 for an AllReduce
 */
public record CollectiveStarted(String groupId, long sequence, ActorRef<PeerMessage> from,
    CollectiveKind kind, int length, int ownerRank) implements PeerMessage {}
