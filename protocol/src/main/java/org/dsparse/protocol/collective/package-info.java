/**
 * Wire protocol between the {@code ProcessGroup} actors of one process group, and its serializer.
 *
 * <p>{@link org.dsparse.protocol.collective.PeerMessage} is everything one member's group actor
 * sends another: announcements that a collective started or was aborted, data
 * {@link org.dsparse.protocol.collective.Chunk}s, and the credits that pace them
 * ({@link org.dsparse.protocol.collective.ChunksConsumed}), and the offers that set up the bulk TCP
 * data links ({@link org.dsparse.protocol.collective.DataLinkOffered}). Every message names its
 * group id and sender, collective messages their sequence number, so that the receiver can refuse
 * anything foreign, stale or from a non-member.
 *
 * <p>{@link org.dsparse.protocol.collective.CollectiveSerializer} is bound to all of them in this
 * module's {@code reference.conf}. Chunks are written by hand straight into Artery's buffer as raw
 * little-endian floats; the small control messages go through Kryo.
 */
package org.dsparse.protocol.collective;
