package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * One piece of a collective's data: chunk {@code index} of ring step {@code step} of collective
 * {@code sequence} in group {@code groupId}, sent by {@code from}.
 */
public record Chunk(String groupId, long sequence, int step, int index, ActorRef<PeerMessage> from,
    FloatSlice payload) implements PeerMessage {}
