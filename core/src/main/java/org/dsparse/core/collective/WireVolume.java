package org.dsparse.core.collective;

import java.util.ArrayList;
import java.util.List;

/**
 * Bytes one rank of a collective puts on its outgoing data link, from its schedule alone: every
 * transfer it sends is one frame of a {@link #TCP_FRAME_HEADER_BYTES}-byte header and the region's
 * floats. What a plan predicts for the wire, and what the TCP transport's counters must then show.
 */
public final class WireVolume {
  /** Sequence (8), step (4), chunk index (4) and float count (4), little-endian. */
  public static final int TCP_FRAME_HEADER_BYTES = 20;

  private WireVolume() {}

  /** Bytes {@code schedule}'s rank sends over the TCP data links. */
  public static long sentBytes(CollectiveSchedule schedule) {
    long bytes = 0;
    for (Transfer transfer : sends(schedule)) {
      bytes += TCP_FRAME_HEADER_BYTES + 4L * schedule.sendRegion(transfer).length();
    }
    return bytes;
  }

  /** Bytes {@code schedule}'s rank receives over the TCP data links. */
  public static long receivedBytes(CollectiveSchedule schedule) {
    long bytes = 0;
    for (Transfer transfer : receives(schedule)) {
      bytes += TCP_FRAME_HEADER_BYTES + 4L * schedule.receiveRegion(transfer).length();
    }
    return bytes;
  }

  /** Bytes sent by rank {@code rank} of a ring AllReduce of {@code length} floats among {@code members}. */
  public static long ringAllReduceSentBytes(int members, int rank, int length, int chunkFloats) {
    return members < 2 ? 0 : sentBytes(new RingAllReduceSchedule(members, rank, length, chunkFloats));
  }

  /** Bytes received by the same rank. */
  public static long ringAllReduceReceivedBytes(int members, int rank, int length, int chunkFloats) {
    return members < 2 ? 0 : receivedBytes(new RingAllReduceSchedule(members, rank, length, chunkFloats));
  }

  /** Bytes sent by rank {@code rank} of a chain Broadcast from {@code owner}. */
  public static long chainBroadcastSentBytes(int members, int rank, int owner, int length, int chunkFloats) {
    return members < 2 ? 0 : sentBytes(new ChainBroadcastSchedule(members, rank, owner, length, chunkFloats));
  }

  /** Bytes received by the same rank. */
  public static long chainBroadcastReceivedBytes(int members, int rank, int owner, int length, int chunkFloats) {
    return members < 2 ? 0 : receivedBytes(new ChainBroadcastSchedule(members, rank, owner, length, chunkFloats));
  }

  private static List<Transfer> receives(CollectiveSchedule schedule) {
    List<Transfer> out = new ArrayList<>();
    for (int step = 0; step < schedule.steps(); step++) {
      for (int chunk = 0; chunk < schedule.chunksPerStep(); chunk++) {
        Transfer transfer = new Transfer(step, chunk);
        if (schedule.expectsToReceive(transfer)) {
          out.add(transfer);
        }
      }
    }
    return out;
  }

  private static List<Transfer> sends(CollectiveSchedule schedule) {
    List<Transfer> out = new ArrayList<>(schedule.initialSends());
    for (Transfer received : receives(schedule)) {
      schedule.sendAfterReceiving(received).ifPresent(out::add);
    }
    return out;
  }
}
