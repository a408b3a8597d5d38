package org.dsparse.actors.collective;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.ChunksConsumed;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.DataLinkOffered;
import org.dsparse.protocol.collective.PeerMessage;

/**
 * The data of a collective as cluster messages: every chunk is one Artery message ({@link Chunk}),
 * paced by credits ({@link ChunksConsumed}, window {@code chunks-in-flight}) because Artery drops
 * messages when its queues are full. Chunks of a collective this member has not started yet are
 * held, up to a window per member.
 */
final class ArteryDataPath implements DataPath {
  private final Group group;
  private final int chunksInFlight;
  private final TreeMap<Long, List<Chunk>> earlyChunks = new TreeMap<>();
  private int earlyChunkCount;
  private RunningCollective running;

  ArteryDataPath(Group group, int chunksInFlight) {
    this.group = group;
    this.chunksInFlight = chunksInFlight;
  }

  @Override
  public void onEvent(Event event) {
    // Chunks and credits arrive as peer messages; this path has no events of its own.
  }

  @Override
  public boolean ready() {
    return true;
  }

  @Override
  public boolean running() {
    return running != null;
  }

  @Override
  public void begin(long sequence, CollectiveKind kind, float[] buffer, CollectiveSchedule schedule,
      Consumer<ProcessGroup.CollectiveOutcome> answer) {
    running = new RunningCollective(group.spec().groupId(), sequence, kind, group.spec().size(), schedule,
        buffer, chunksInFlight);
    List<Chunk> early = earlyChunks.remove(sequence);
    if (early != null) {
      earlyChunkCount -= early.size();
      for (Chunk chunk : early) {
        if (!group.isRunning(sequence)) {
          return;
        }
        onChunk(chunk);
      }
    }
    if (group.isRunning(sequence)) {
      pump();
    }
  }

  @Override
  public void allStarted(long nanos) {
    // The group's own clock gives the collective's time.
  }

  @Override
  public void onPeerMessage(PeerMessage message) {
    if (message instanceof Chunk chunk) {
      onChunk(chunk);
    } else if (message instanceof ChunksConsumed consumed) {
      onChunksConsumed(consumed);
    } else if (message instanceof DataLinkOffered offered) {
      group.log().warn("group {} ignored a data link offer from {}: it moves data over the cluster",
          group.spec().groupId(), offered.from());
    }
  }

  /** A chunk from a member of the group, of a collective not finished yet. */
  private void onChunk(Chunk chunk) {
    if (running == null || !group.isRunning(chunk.sequence())) {
      holdEarly(chunk);
      return;
    }
    Optional<Integer> predecessor = running.schedule().predecessor();
    if (predecessor.isEmpty() || !chunk.from().equals(group.peer(predecessor.get()))) {
      group.rejected(chunk, ChunkRejection.OUT_OF_SCHEDULE);
      return;
    }
    Optional<ChunkRejection> refused = running.apply(chunk);
    if (refused.isPresent()) {
      group.rejected(chunk, refused.get());
      return;
    }
    chunk.from().tell(new ChunksConsumed(group.spec().groupId(), chunk.sequence(), group.self(), 1));
    group.progressed();
    pump();
  }

  private void holdEarly(Chunk chunk) {
    if (earlyChunkCount >= chunksInFlight * group.spec().size()) {
      group.rejected(chunk, ChunkRejection.TOO_EARLY);
      return;
    }
    earlyChunks.computeIfAbsent(chunk.sequence(), s -> new ArrayList<>()).add(chunk);
    earlyChunkCount++;
  }

  private void onChunksConsumed(ChunksConsumed consumed) {
    if (running == null || !group.isRunning(consumed.sequence())) {
      return;
    }
    Optional<Integer> successor = running.schedule().successor();
    if (successor.isEmpty() || !consumed.from().equals(group.peer(successor.get()))
        || !running.creditsGranted(consumed.count())) {
      group.log().warn("group {} ignored credits {} for collective {} from {}", group.spec().groupId(),
          consumed.count(), consumed.sequence(), consumed.from());
      return;
    }
    group.progressed();
    pump();
  }

  /** Sends what the flow-control window allows and completes the collective when all is done. */
  private void pump() {
    Optional<Integer> successor = running.schedule().successor();
    if (successor.isPresent()) {
      ActorRef<PeerMessage> next = group.peer(successor.get());
      for (Chunk chunk : running.takeSendable(group.self())) {
        next.tell(chunk);
      }
    }
    if (running.complete()) {
      long sequence = running.sequence();
      float[] result = running.buffer();
      group.succeeded(new ProcessGroup.Completed(group.spec().groupId(), sequence, result, group.sinceAllStarted(),
          -1));
    }
  }

  @Override
  public void peerKnown(int rank) {
    // Chunks need no link.
  }

  @Override
  public void ended(long sequence, boolean succeeded) {
    running = null;
    dropEarlyChunksUpTo(sequence);
  }

  @Override
  public void abandoned(long sequence) {
    dropEarlyChunksUpTo(sequence);
  }

  private void dropEarlyChunksUpTo(long sequence) {
    earlyChunkCount -= earlyChunks.headMap(sequence, true).values().stream().mapToInt(List::size).sum();
    earlyChunks.headMap(sequence, true).clear();
  }

  @Override
  public long idleNanos() {
    return Long.MAX_VALUE; // every chunk and credit restarts the deadline
  }

  @Override
  public int missingLink() {
    return -1;
  }

  @Override
  public boolean receivedEverything() {
    return running != null && running.receivedEverything();
  }

  @Override
  public String progress() {
    return running == null ? "" : " (" + running.progress() + ")";
  }

  @Override
  public Optional<String> endpoint() {
    return Optional.empty();
  }

  @Override
  public void close() {
    // Nothing of its own to release.
  }
}
