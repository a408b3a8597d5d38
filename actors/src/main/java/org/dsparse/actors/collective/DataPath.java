package org.dsparse.actors.collective;

import java.util.Optional;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.PeerMessage;
import org.slf4j.Logger;

/**
 * How one member of a process group moves a collective's data to and from its ring neighbours:
 * {@link ArteryDataPath} (chunks as cluster messages) or {@link TcpDataPath} (a TCP link per
 * neighbour). The {@link ProcessGroup} actor keeps sequencing, membership, deadlines and aborts and
 * calls the path, on its own thread only; the path answers through {@link Group}.
 */
interface DataPath {

  /** What a path may ask of its group actor. */
  interface Group {
    GroupSpec spec();

    int selfRank();

    ActorRef<PeerMessage> self();

    /** The member's group actor; null while unknown, or once it departed. */
    ActorRef<PeerMessage> peer(int rank);

    /** Rank of the member whose group actor {@code ref} is, or -1. */
    int memberRankOf(ActorRef<PeerMessage> ref);

    /** Whether collective {@code sequence} is the one running. */
    boolean isRunning(long sequence);

    /** The running collective's own time so far: since every member had started it, or 0. */
    long sinceAllStarted();

    /** The running collective moved: its deadline starts again. */
    void progressed();

    /** The running collective finished here; {@code completed} carries its result. */
    void succeeded(ProcessGroup.Completed completed);

    /** The running collective failed, blaming member {@code blamedRank}; the peers are told. */
    void failed(int blamedRank, String reason);

    /** The path may now take a collective (its links came up). */
    void readyAgain();

    /** Counts and logs a chunk refused. */
    void rejected(Chunk chunk, ChunkRejection reason);

    /** Counts a data connection refused. */
    void refusedConnection(String remote, String reason);

    Logger log();
  }

  /** A path's own message to its group actor, sent from the path's threads (link and run events). */
  non-sealed interface Event extends ProcessGroup.Command {}

  /** Handles one of this path's {@link Event}s. */
  void onEvent(Event event);

  /** Whether a collective can begin now: every link it needs is up. */
  boolean ready();

  /** Whether a collective is running on this path. */
  boolean running();

  /**
   * Starts moving the data of collective {@code sequence} ({@code kind}), held in {@code buffer}, by
   * {@code schedule}; every member has been told of it. A path whose data moves on a thread of its
   * own may give the caller its answer from there, through {@code answer}, before
   * {@link Group#succeeded} (whose answer then finds the request answered).
   */
  void begin(long sequence, CollectiveKind kind, float[] buffer, CollectiveSchedule schedule,
      Consumer<ProcessGroup.CollectiveOutcome> answer);

  /**
   * Every member has started the current collective, at {@code nanos} ({@link System#nanoTime});
   * told as soon as known, which may be before {@link #begin}.
   */
  void allStarted(long nanos);

  /** A data-plane message from a peer: chunks and credits (Artery), link offers (TCP). */
  void onPeerMessage(PeerMessage message);

  /** A member's group actor became known. */
  void peerKnown(int rank);

  /** The running collective ended; when it failed, the data streams' positions are unknown. */
  void ended(long sequence, boolean succeeded);

  /** Collective {@code sequence} was given up before this member started it. */
  void abandoned(long sequence);

  /**
   * For the deadline: how long the running collective's data has not moved; {@link Long#MAX_VALUE}
   * where the path restarts the deadline itself on progress ({@link Group#progressed}).
   */
  long idleNanos();

  /** The member at the other end of a link that is down, or -1. */
  int missingLink();

  /** Whether this member has received all the running collective sends it. */
  boolean receivedEverything();

  /** The running collective's progress in words, for a deadline's message; empty where not tracked. */
  String progress();

  /** Where this member accepts its predecessor's data link ({@code host:port}), if it has one. */
  Optional<String> endpoint();

  void close();
}
