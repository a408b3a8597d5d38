package org.dsparse.actors.collective;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.core.collective.FloatKernels;
import org.dsparse.core.collective.ReceiveLedger;
import org.dsparse.core.collective.Region;
import org.dsparse.core.collective.Transfer;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.FloatSlice;
import org.dsparse.protocol.collective.PeerMessage;

/**
 * The data side of one collective on one member: applies chunks from the predecessor, queues the
 * chunks that become ready for the successor and releases them as the successor grants credits.
 *
 * <p>Outgoing chunks are views of {@code buffer}, not copies. That is safe because a region is only
 * rewritten after the ring has carried it all the way round, i.e. after the successor consumed the
 * chunk, and the collective only completes (handing the buffer back to the caller) once the
 * successor has consumed everything this member sent.
 */
final class RunningCollective {
  private final String groupId;
  private final long sequence;
  private final CollectiveKind kind;
  private final int members;
  private final CollectiveSchedule schedule;
  private final float[] buffer;
  private final ReceiveLedger ledger;
  private final ArrayDeque<Transfer> ready = new ArrayDeque<>();
  private int credits;
  private int sent;
  private int consumedBySuccessor;

  RunningCollective(String groupId, long sequence, CollectiveKind kind, int members, CollectiveSchedule schedule,
      float[] buffer, int chunksInFlight) {
    this.groupId = groupId;
    this.sequence = sequence;
    this.kind = kind;
    this.members = members;
    this.schedule = schedule;
    this.buffer = buffer;
    this.ledger = new ReceiveLedger(schedule);
    this.credits = chunksInFlight;
    ready.addAll(schedule.initialSends());
  }

  long sequence() {
    return sequence;
  }

  /** The caller's array, which holds the result once {@link #complete}. */
  float[] buffer() {
    return buffer;
  }

  CollectiveSchedule schedule() {
    return schedule;
  }

  /** Applies {@code chunk} (already known to come from the predecessor), or says why it is refused. */
  Optional<ChunkRejection> apply(Chunk chunk) {
    Transfer transfer = new Transfer(chunk.step(), chunk.index());
    if (!schedule.expectsToReceive(transfer)) {
      return Optional.of(ChunkRejection.OUT_OF_SCHEDULE);
    }
    Region region = schedule.receiveRegion(transfer);
    FloatSlice payload = chunk.payload();
    if (payload.length() != region.length()) {
      return Optional.of(ChunkRejection.WRONG_LENGTH);
    }
    Optional<ChunkRejection> refused = ledger.admit(transfer);
    if (refused.isPresent()) {
      return refused;
    }
    if (schedule.reducesOnReceive(transfer)) {
      FloatKernels.addInto(buffer, region.offset(), payload.array(), payload.offset(), region.length());
    } else {
      System.arraycopy(payload.array(), payload.offset(), buffer, region.offset(), region.length());
    }
    if (kind == CollectiveKind.ALL_REDUCE_MEAN && schedule.completesReduction(transfer)) {
      FloatKernels.divide(buffer, region.offset(), region.length(), members);
    }
    schedule.sendAfterReceiving(transfer).ifPresent(ready::add);
    return Optional.empty();
  }

  /** Records credits from the successor; false if it claims to have consumed more than was sent. */
  boolean creditsGranted(int count) {
    if (count < 1 || consumedBySuccessor + count > sent) {
      return false;
    }
    consumedBySuccessor += count;
    credits += count;
    return true;
  }

  /** Chunks that may go to the successor now, within the flow-control window. */
  List<Chunk> takeSendable(ActorRef<PeerMessage> self) {
    List<Chunk> out = new ArrayList<>();
    while (credits > 0 && !ready.isEmpty()) {
      Transfer transfer = ready.poll();
      Region region = schedule.sendRegion(transfer);
      out.add(new Chunk(groupId, sequence, transfer.step(), transfer.chunk(), self,
          new FloatSlice(buffer, region.offset(), region.length())));
      credits--;
      sent++;
    }
    return out;
  }

  boolean receivedEverything() {
    return ledger.complete();
  }

  /** Done when every expected chunk arrived and the successor consumed every chunk sent to it. */
  boolean complete() {
    return ledger.complete() && consumedBySuccessor == schedule.sendCount();
  }

  String progress() {
    return "received " + ledger.receivedCount() + "/" + schedule.receiveCount() + " chunks, successor consumed "
        + consumedBySuccessor + "/" + schedule.sendCount();
  }
}
