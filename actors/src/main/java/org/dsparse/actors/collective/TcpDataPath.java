package org.dsparse.actors.collective;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.DataLinkOffered;
import org.dsparse.protocol.collective.PeerMessage;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * The data of a collective over TCP: one link from each member to its ring successor, set up by the
 * members' group actors and moved by a {@link TcpCollectiveRun} on a shared I/O thread. Each member
 * listens on an ephemeral port ({@link TcpDataLinks}) and offers it to its predecessor over the
 * cluster with a random token ({@link DataLinkOffered}); the predecessor connects, under TLS on the
 * cluster's certificates when the node runs TLS ({@link TlsDataLink}). After a failed
 * collective the streams' positions are unknown, so both links are dropped and offered afresh.
 */
final class TcpDataPath implements DataPath {
  private record IncomingLinkUp(long generation, DataLink channel) implements Event {}

  private record OutgoingLinkUp(long generation, DataLink channel) implements Event {}

  private record OutgoingLinkFailed(long generation, String reason) implements Event {}

  private record IntruderRefused(String remote, String reason) implements Event {}

  /** A run ended: {@code completed} on success (its thread answered the caller with it too), else the error. */
  private record RunFinished(long sequence, ProcessGroup.Completed completed, TcpCollectiveRun.Side side,
      String error) implements Event {}

  private record LinkFailureSettled(long sequence, int blamedRank, String reason) implements Event {}

  private static final Object LINK_FAILURE = "link-failure";
  /**
   * How long a broken data link waits for the reason to arrive over the cluster before blaming the
   * neighbour at the other end: a member that gives up a collective sends CollectiveAborted and then
   * closes its links, and the closed socket usually overtakes the message.
   */
  private static final Duration LINK_FAILURE_GRACE = Duration.ofMillis(500);

  private final Group group;
  private final ActorRef<ProcessGroup.Command> actor;
  private final TimerScheduler<ProcessGroup.Command> timers;
  private final Duration deadline;
  private final WireTraffic traffic;
  /** Polling before blocking pays only while every member on this host can have a core of its own. */
  private final long pollNanos;
  private final TcpDataLinks links;
  private DataLink incoming;
  private DataLink outgoing;
  private long incomingGeneration;
  private long outgoingGeneration;
  private long linksResetFor = Long.MIN_VALUE;
  private TcpCollectiveRun run;
  private long allStartedAt;

  TcpDataPath(Group group, ActorRef<ProcessGroup.Command> actor, TimerScheduler<ProcessGroup.Command> timers,
      CollectiveSettings settings, String host, long pollNanos, WireTraffic traffic, javax.net.ssl.SSLContext tls) {
    this.group = group;
    this.actor = actor;
    this.timers = timers;
    this.deadline = settings.deadline();
    this.traffic = traffic;
    this.pollNanos = pollNanos;
    try {
      this.links = TcpDataLinks.open(group.spec().groupId(), group.selfRank(), host, settings.dataPort(),
          settings.dataPorts(),
          new TcpDataLinks.Events() {
            @Override
            public void incomingEstablished(long generation, DataLink channel) {
              actor.tell(new IncomingLinkUp(generation, channel));
            }

            @Override
            public void intruderRefused(String remote, String reason) {
              actor.tell(new IntruderRefused(remote, reason));
            }

            @Override
            public void outgoingEstablished(long generation, DataLink channel) {
              actor.tell(new OutgoingLinkUp(generation, channel));
            }

            @Override
            public void outgoingFailed(long generation, String reason) {
              actor.tell(new OutgoingLinkFailed(generation, reason));
            }
          }, traffic, tls);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public boolean ready() {
    return incoming != null && outgoing != null;
  }

  @Override
  public boolean running() {
    return run != null;
  }

  @Override
  public void begin(long sequence, CollectiveKind kind, float[] buffer, CollectiveSchedule schedule,
      Consumer<ProcessGroup.CollectiveOutcome> answer) {
    String groupId = group.spec().groupId();
    TcpCollectiveRun started = new TcpCollectiveRun(sequence, kind, group.spec().size(), schedule, buffer, incoming,
        outgoing, pollNanos, traffic, groupId);
    run = started;
    if (allStartedAt != 0) {
      started.allStartedAt(allStartedAt);
    }
    started.start(links.executor(), new TcpCollectiveRun.Listener() {
      @Override
      public void succeeded() {
        ProcessGroup.Completed completed = new ProcessGroup.Completed(groupId, sequence, buffer,
            started.transferNanos(), started.cpuNanos());
        // The actor first, so that whoever hears of the success finds the group done with it; the
        // actor answers too before it starts the next collective, so answers stay in order.
        actor.tell(new RunFinished(sequence, completed, null, null));
        answer.accept(completed);
      }

      @Override
      public void failed(TcpCollectiveRun.Side side, String error) {
        actor.tell(new RunFinished(sequence, null, side, error));
      }
    });
  }

  @Override
  public void allStarted(long nanos) {
    allStartedAt = nanos;
    if (run != null) {
      run.allStartedAt(nanos);
    }
  }

  @Override
  public void onPeerMessage(PeerMessage message) {
    if (message instanceof Chunk chunk) {
      group.rejected(chunk, ChunkRejection.OUT_OF_SCHEDULE); // data comes over the links
    } else if (message instanceof DataLinkOffered offered) {
      onDataLinkOffered(offered);
    }
  }

  /** Handles what the links and runs reported from their threads. */
  @Override
  public void onEvent(Event event) {
    if (event instanceof IncomingLinkUp up) {
      if (up.generation() != incomingGeneration) {
        TcpDataLinks.closeQuietly(up.channel());
        return;
      }
      TcpDataLinks.closeQuietly(incoming);
      incoming = up.channel();
      group.readyAgain();
    } else if (event instanceof OutgoingLinkUp up) {
      if (up.generation() != outgoingGeneration) {
        TcpDataLinks.closeQuietly(up.channel());
        return;
      }
      outgoing = up.channel();
      group.readyAgain();
    } else if (event instanceof OutgoingLinkFailed failed) {
      group.log().warn("group {}: data link {} to member {} failed: {}", group.spec().groupId(),
          failed.generation(), group.spec().member(successorRank()), failed.reason());
    } else if (event instanceof IntruderRefused refused) {
      group.refusedConnection(refused.remote(), refused.reason());
    } else if (event instanceof RunFinished finished) {
      onRunFinished(finished);
    } else if (event instanceof LinkFailureSettled settled) {
      if (group.isRunning(settled.sequence())) {
        group.failed(settled.blamedRank(), settled.reason());
      }
    }
  }

  private void onRunFinished(RunFinished finished) {
    if (run == null || !group.isRunning(finished.sequence())) {
      return;
    }
    if (finished.error() == null) {
      group.succeeded(finished.completed()); // answered already, unless the run's thread was second
      return;
    }
    int blamed = finished.side() == TcpCollectiveRun.Side.RECEIVE ? predecessorRank() : successorRank();
    String reason = "data link " + (finished.side() == TcpCollectiveRun.Side.RECEIVE ? "from" : "to")
        + " member " + group.spec().member(blamed) + " failed: " + finished.error();
    if (!timers.isTimerActive(LINK_FAILURE)) {
      Duration grace = deadline.dividedBy(2).compareTo(LINK_FAILURE_GRACE) < 0
          ? deadline.dividedBy(2) : LINK_FAILURE_GRACE;
      timers.startSingleTimer(LINK_FAILURE, new LinkFailureSettled(finished.sequence(), blamed, reason), grace);
    }
  }

  /** Asks the predecessor to (re)connect to this member's listener, with a fresh token. */
  private void offerIncomingLink() {
    ActorRef<PeerMessage> predecessor = group.peer(predecessorRank());
    if (predecessor == null) {
      return;
    }
    TcpDataLinks.Offer offer = links.newOffer(predecessorRank());
    incomingGeneration = offer.generation();
    predecessor.tell(new DataLinkOffered(group.spec().groupId(), offer.generation(), group.self(), links.host(),
        links.port(), offer.token()));
  }

  private void onDataLinkOffered(DataLinkOffered offered) {
    if (group.memberRankOf(offered.from()) != successorRank()) {
      group.log().warn("group {} ignored a data link offer from {}, which is not its successor",
          group.spec().groupId(), offered.from());
      return;
    }
    if (offered.generation() <= outgoingGeneration) {
      return;
    }
    outgoingGeneration = offered.generation();
    TcpDataLinks.closeQuietly(outgoing);
    outgoing = null;
    links.connect(offered.generation(), offered.host(), offered.port(), offered.token());
  }

  @Override
  public void peerKnown(int rank) {
    if (rank == predecessorRank()) {
      offerIncomingLink();
    }
  }

  @Override
  public void ended(long sequence, boolean succeeded) {
    if (run != null) {
      run.cancel();
      run = null;
    }
    allStartedAt = 0;
    timers.cancel(LINK_FAILURE);
    if (!succeeded) {
      resetLinksFor(sequence);
    }
  }

  @Override
  public void abandoned(long sequence) {
    resetLinksFor(sequence);
  }

  /**
   * Drops both links and re-offers. Peers that gave up collective {@code sequence} do the same, so a
   * member that had not even started it follows suit when it learns of the abort. Once per sequence,
   * so the fresh links survive.
   */
  private void resetLinksFor(long sequence) {
    if (sequence <= linksResetFor) {
      return;
    }
    linksResetFor = sequence;
    TcpDataLinks.closeQuietly(incoming);
    TcpDataLinks.closeQuietly(outgoing);
    incoming = null;
    outgoing = null;
    offerIncomingLink();
  }

  @Override
  public long idleNanos() {
    return run == null ? Long.MAX_VALUE : System.nanoTime() - run.lastProgressNanos();
  }

  @Override
  public int missingLink() {
    if (incoming == null) {
      return predecessorRank();
    }
    return outgoing == null ? successorRank() : -1;
  }

  @Override
  public boolean receivedEverything() {
    return run != null && run.receivedEverything();
  }

  @Override
  public String progress() {
    return "";
  }

  @Override
  public Optional<String> endpoint() {
    return Optional.of(links.host() + ":" + links.port());
  }

  @Override
  public void close() {
    if (run != null) {
      run.cancel();
    }
    TcpDataLinks.closeQuietly(incoming);
    TcpDataLinks.closeQuietly(outgoing);
    links.close();
  }

  private int predecessorRank() {
    return (group.selfRank() + group.spec().size() - 1) % group.spec().size();
  }

  private int successorRank() {
    return (group.selfRank() + 1) % group.spec().size();
  }
}
