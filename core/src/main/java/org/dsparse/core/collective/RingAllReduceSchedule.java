package org.dsparse.core.collective;

import java.util.List;
import java.util.Optional;

/**
 * Bandwidth-optimal ring AllReduce: {@code N-1} reduce-scatter steps then {@code N-1} all-gather
 * steps, each member sending {@code 2(N-1)/N} of the buffer in total.
 *
 * <p>At global step {@code t} rank {@code r} sends part {@code (r - t) mod N} to {@code r + 1} and
 * receives part {@code (r - t - 1) mod N} from {@code r - 1}; the same formula holds in both phases.
 * Steps {@code < N-1} add what they receive, later steps copy. The chunk received at step {@code t}
 * is exactly the chunk to send at step {@code t + 1}, so chunks pipeline through the ring.
 *
 * <p>{@link #allGather} is the second phase alone: rank {@code r} starts with part {@code r} filled
 * and after {@code N-1} copying steps holds every part, sending {@code (N-1)/N} of the buffer.
 */
public final class RingAllReduceSchedule implements CollectiveSchedule {
  private final int members;
  private final int rank;
  private final ChunkLayout layout;
  /** Whether the ring reduce-scatters first (an AllReduce) or only gathers (an AllGather). */
  private final boolean reduces;

  public RingAllReduceSchedule(int members, int rank, int length, int maxChunkFloats) {
    this(members, rank, ChunkLayout.of(length, members, maxChunkFloats));
  }

  /** The ring over {@code layout}, whose parts are the members' (a window of a vector, or a whole one). */
  public RingAllReduceSchedule(int members, int rank, ChunkLayout layout) {
    this(members, rank, layout, true);
  }

  /** Ring AllGather over {@code layout}, whose part {@code r} is rank {@code r}'s contribution. */
  public static RingAllReduceSchedule allGather(int members, int rank, ChunkLayout layout) {
    return new RingAllReduceSchedule(members, rank, layout, false);
  }

  private RingAllReduceSchedule(int members, int rank, ChunkLayout layout, boolean reduces) {
    if (rank < 0 || rank >= members) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + members + ")");
    }
    if (layout.parts() != members) {
      throw new IllegalArgumentException(layout.parts() + " parts for " + members + " members");
    }
    this.members = members;
    this.rank = rank;
    this.layout = layout;
    this.reduces = reduces;
  }

  @Override
  public Optional<Integer> successor() {
    return members == 1 ? Optional.empty() : Optional.of((rank + 1) % members);
  }

  @Override
  public Optional<Integer> predecessor() {
    return members == 1 ? Optional.empty() : Optional.of((rank + members - 1) % members);
  }

  @Override
  public List<Transfer> initialSends() {
    if (members == 1) {
      return List.of();
    }
    return CollectiveSchedule.firstStep(layout);
  }

  @Override
  public Optional<Transfer> sendAfterReceiving(Transfer received) {
    int next = received.step() + 1;
    return next < steps() ? Optional.of(new Transfer(next, received.chunk())) : Optional.empty();
  }

  @Override
  public boolean expectsToReceive(Transfer transfer) {
    return transfer.step() >= 0 && transfer.step() < steps()
        && transfer.chunk() >= 0 && transfer.chunk() < layout.chunksPerPart();
  }

  @Override
  public int steps() {
    return (reduces ? 2 : 1) * (members - 1);
  }

  @Override
  public int chunksPerStep() {
    return layout.chunksPerPart();
  }

  @Override
  public int receiveCount() {
    return steps() * layout.chunksPerPart();
  }

  @Override
  public int sendCount() {
    return receiveCount();
  }

  @Override
  public Region sendRegion(Transfer transfer) {
    return chunkOf(Math.floorMod(rank - transfer.step(), members), transfer.chunk());
  }

  @Override
  public Region receiveRegion(Transfer transfer) {
    return chunkOf(Math.floorMod(rank - transfer.step() - 1, members), transfer.chunk());
  }

  @Override
  public boolean reducesOnReceive(Transfer transfer) {
    return reduces && transfer.step() < members - 1;
  }

  @Override
  public boolean completesReduction(Transfer transfer) {
    return reduces && transfer.step() == members - 2;
  }

  private Region chunkOf(int part, int chunk) {
    return new Region(layout.chunkOffset(part, chunk), layout.chunkLength(part, chunk));
  }
}
