package org.dsparse.core.collective;

import java.util.List;
import java.util.Optional;

/**
 * Ring AllGather: each rank starts with its own part of the buffer filled (part {@code r} on rank
 * {@code r}) and after {@code N-1} steps holds every part; each rank sends {@code (N-1)/N} of the
 * buffer, half of what an AllReduce of the same buffer sends (this is an AllReduce's second phase
 * alone).
 *
 * <p>At step {@code t} rank {@code r} sends part {@code (r - t) mod N} to {@code r + 1} and receives
 * part {@code (r - t - 1) mod N} from {@code r - 1}, copying it; what it receives at step {@code t} it
 * forwards at step {@code t + 1}, so chunks pipeline through the ring.
 */
public final class RingAllGatherSchedule implements CollectiveSchedule {
  private final int members;
  private final int rank;
  private final ChunkLayout layout;

  /** The ring over {@code layout}, whose part {@code r} is rank {@code r}'s contribution. */
  public RingAllGatherSchedule(int members, int rank, ChunkLayout layout) {
    if (rank < 0 || rank >= members) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + members + ")");
    }
    if (layout.parts() != members) {
      throw new IllegalArgumentException(layout.parts() + " parts for " + members + " members");
    }
    this.members = members;
    this.rank = rank;
    this.layout = layout;
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
    return members == 1 ? List.of() : CollectiveSchedule.firstStep(layout);
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
    return members - 1;
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
    return false;
  }

  @Override
  public boolean completesReduction(Transfer transfer) {
    return false;
  }

  private Region chunkOf(int part, int chunk) {
    return new Region(layout.chunkOffset(part, chunk), layout.chunkLength(part, chunk));
  }
}
