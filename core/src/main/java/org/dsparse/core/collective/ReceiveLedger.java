package org.dsparse.core.collective;

import java.util.BitSet;
import java.util.Optional;

/**
 * Remembers which transfers of one collective have arrived, so a chunk is applied at most once and
 * only if the schedule expects it.
 */
public final class ReceiveLedger {
  private final CollectiveSchedule schedule;
  private final BitSet received;
  private int count;

  public ReceiveLedger(CollectiveSchedule schedule) {
    this.schedule = schedule;
    this.received = new BitSet(schedule.steps() * schedule.chunksPerStep());
  }

  /** Records {@code transfer} and returns empty if it is new and expected, else why it is refused. */
  public Optional<ChunkRejection> admit(Transfer transfer) {
    if (!schedule.expectsToReceive(transfer)) {
      return Optional.of(ChunkRejection.OUT_OF_SCHEDULE);
    }
    int bit = transfer.step() * schedule.chunksPerStep() + transfer.chunk();
    if (received.get(bit)) {
      return Optional.of(ChunkRejection.DUPLICATE);
    }
    received.set(bit);
    count++;
    return Optional.empty();
  }

  public boolean complete() {
    return count == schedule.receiveCount();
  }

  public int receivedCount() {
    return count;
  }
}
