package org.dsparse.core.collective;

import java.util.List;
import java.util.Optional;

/**
 * Pipelined chain Broadcast: the owner streams chunks to the next rank, which forwards each chunk
 * as soon as it has it, and so on around the ranks in order starting at the owner.
 *
 * <p>A chain rather than a tree because every member then sends the buffer at most once: the time
 * is {@code bytes / B} plus {@code (N-2)} chunk times of pipeline fill, while a binary tree makes
 * inner nodes send everything twice, which on shared links (and on a loopback bound by CPU) halves
 * throughput for a latency saving that small chunks make negligible.
 */
public final class ChainBroadcastSchedule implements CollectiveSchedule {
  private final int members;
  private final int rank;
  private final int position;
  private final ChunkLayout layout;

  public ChainBroadcastSchedule(int members, int rank, int owner, int length, int maxChunkFloats) {
    if (rank < 0 || rank >= members) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + members + ")");
    }
    if (owner < 0 || owner >= members) {
      throw new IllegalArgumentException("owner rank " + owner + " outside [0, " + members + ")");
    }
    this.members = members;
    this.rank = rank;
    this.position = Math.floorMod(rank - owner, members);
    this.layout = ChunkLayout.of(length, 1, maxChunkFloats);
  }

  @Override
  public Optional<Integer> successor() {
    return position < members - 1 ? Optional.of((rank + 1) % members) : Optional.empty();
  }

  @Override
  public Optional<Integer> predecessor() {
    return position > 0 ? Optional.of((rank + members - 1) % members) : Optional.empty();
  }

  @Override
  public List<Transfer> initialSends() {
    if (position != 0 || successor().isEmpty()) {
      return List.of();
    }
    return CollectiveSchedule.firstStep(layout);
  }

  @Override
  public Optional<Transfer> sendAfterReceiving(Transfer received) {
    return successor().isPresent() ? Optional.of(received) : Optional.empty();
  }

  @Override
  public boolean expectsToReceive(Transfer transfer) {
    return position > 0 && transfer.step() == 0
        && transfer.chunk() >= 0 && transfer.chunk() < layout.chunksPerPart();
  }

  @Override
  public int steps() {
    return 1;
  }

  @Override
  public int chunksPerStep() {
    return layout.chunksPerPart();
  }

  @Override
  public int receiveCount() {
    return position > 0 ? layout.chunksPerPart() : 0;
  }

  @Override
  public int sendCount() {
    return successor().isPresent() ? layout.chunksPerPart() : 0;
  }

  @Override
  public Region sendRegion(Transfer transfer) {
    return receiveRegion(transfer);
  }

  @Override
  public Region receiveRegion(Transfer transfer) {
    return new Region(layout.chunkOffset(0, transfer.chunk()), layout.chunkLength(0, transfer.chunk()));
  }

  @Override
  public boolean reducesOnReceive(Transfer transfer) {
    return false;
  }

  @Override
  public boolean completesReduction(Transfer transfer) {
    return false;
  }
}
