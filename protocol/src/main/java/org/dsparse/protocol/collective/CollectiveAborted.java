package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * {@code from} gave up collective {@code sequence} because of {@code missingMember} (a cluster
 * member address); the receivers fail the same collective naming the same member.
 */
public record CollectiveAborted(String groupId, long sequence, ActorRef<PeerMessage> from,
    String missingMember, String reason) implements PeerMessage {}
