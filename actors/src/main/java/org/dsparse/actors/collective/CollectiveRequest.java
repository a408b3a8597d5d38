package org.dsparse.actors.collective;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ChainBroadcastSchedule;
import org.dsparse.core.collective.ChunkLayout;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.core.collective.RingAllReduceSchedule;
import org.dsparse.protocol.collective.CollectiveKind;

/**
 * A collective asked of a {@link ProcessGroup} member, and the schedule the member runs it by.
 * Answered once: the TCP run's thread answers a success itself, which spares the caller a hop
 * through the group actor's mailbox; a failure the actor decides at the same moment then finds the
 * request answered, and the other way round.
 */
record CollectiveRequest(long sequence, CollectiveKind kind, int ownerRank, float[] buffer, int[] partLengths,
    ActorRef<ProcessGroup.CollectiveOutcome> replyTo, AtomicBoolean answered) {

  CollectiveRequest(long sequence, CollectiveKind kind, int ownerRank, float[] buffer, int[] partLengths,
      ActorRef<ProcessGroup.CollectiveOutcome> replyTo) {
    this(sequence, kind, ownerRank, buffer, partLengths, replyTo, new AtomicBoolean());
  }

  void answer(ProcessGroup.CollectiveOutcome outcome) {
    if (answered.compareAndSet(false, true)) {
      replyTo.tell(outcome);
    }
  }

  /** The schedule of member {@code selfRank} of a group of {@code size}, in chunks of at most {@code chunkFloats}. */
  CollectiveSchedule schedule(int size, int selfRank, int chunkFloats) {
    int length = buffer.length;
    if (kind == CollectiveKind.BROADCAST) {
      return new ChainBroadcastSchedule(size, selfRank, ownerRank, length, chunkFloats);
    }
    ChunkLayout parts = partLengths.length == 0
        ? ChunkLayout.of(length, size, chunkFloats)
        : ChunkLayout.ofParts(partLengths, chunkFloats);
    return kind == CollectiveKind.ALL_GATHER ? RingAllReduceSchedule.allGather(size, selfRank, parts)
        : new RingAllReduceSchedule(size, selfRank, parts);
  }
}
