package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * The receiver applied {@code count} more chunks of collective {@code sequence} from its
 * predecessor, which may therefore send that many more: end-to-end flow control, because Artery
 * drops messages when its send queue is full.
 */
public record ChunksConsumed(String groupId, long sequence, ActorRef<PeerMessage> from, int count)
    implements PeerMessage {}
