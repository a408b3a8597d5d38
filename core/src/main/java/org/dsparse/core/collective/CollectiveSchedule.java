package org.dsparse.core.collective;

import java.util.List;
import java.util.Optional;

/**
 * What one rank of a process group does during one collective. Every rank streams chunks to a
 * single successor and receives chunks from a single predecessor, which keeps each link busy with
 * one ordered flow and lets the transport apply per-link flow control.
 */
public sealed interface CollectiveSchedule
    permits RingAllReduceSchedule, ChainBroadcastSchedule {

  /** Rank this rank sends to, or empty when it only receives. */
  Optional<Integer> successor();

  /** Rank this rank receives from, or empty when it only sends. */
  Optional<Integer> predecessor();

  /** Transfers this rank can send as soon as the collective starts. */
  List<Transfer> initialSends();

  /** The transfer that receiving {@code received} makes ready to send, if any. */
  Optional<Transfer> sendAfterReceiving(Transfer received);

  /** Whether this rank expects to receive {@code transfer}; anything else is out of schedule. */
  boolean expectsToReceive(Transfer transfer);

  /** Number of steps on the wire; step indices run over {@code [0, steps())}. */
  int steps();

  int chunksPerStep();

  int receiveCount();

  int sendCount();

  /** Buffer slice carried by {@code transfer} when this rank sends it. */
  Region sendRegion(Transfer transfer);

  /** Buffer slice {@code transfer} lands in when this rank receives it. */
  Region receiveRegion(Transfer transfer);

  /** Whether a received chunk is added to the buffer (reduce) rather than copied over it. */
  boolean reducesOnReceive(Transfer transfer);

  /**
   * Whether receiving {@code transfer} completes the reduction of its region on this rank; a mean
   * divides exactly those regions, once, before passing them on.
   */
  boolean completesReduction(Transfer transfer);

  /** Every chunk of step 0: what a rank that starts a ring or a chain sends first. */
  static List<Transfer> firstStep(ChunkLayout layout) {
    List<Transfer> sends = new java.util.ArrayList<>(layout.chunksPerPart());
    for (int c = 0; c < layout.chunksPerPart(); c++) {
      sends.add(new Transfer(0, c));
    }
    return sends;
  }
}
