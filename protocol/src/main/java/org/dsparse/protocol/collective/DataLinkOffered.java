package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * {@code from} listens for its predecessor's bulk data connection at {@code host:port}: the
 * predecessor connects and presents {@code token}, which only travelled over the cluster's own
 * transport, so a connection without it is not from a member. {@code generation} grows with every
 * offer; a newer offer replaces the link (after a failed collective the stream position is lost).
 */
public record DataLinkOffered(String groupId, long generation, ActorRef<PeerMessage> from, String host, int port,
    long token) implements PeerMessage {}
