package org.dsparse.protocol.collective;

import org.apache.pekko.actor.typed.ActorRef;

/** A message between the group actors of one process group. */
public sealed interface PeerMessage permits Chunk, ChunksConsumed, CollectiveStarted, CollectiveAborted, DataLinkOffered {
  String groupId();

  /** The sending member's group actor; the receiver checks it against the group's membership. */
  ActorRef<PeerMessage> from();
}
