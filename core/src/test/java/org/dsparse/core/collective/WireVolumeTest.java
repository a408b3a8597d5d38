package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WireVolumeTest {
  private static final int HEADER = WireVolume.TCP_FRAME_HEADER_BYTES;

  @Test
  void aRingAllReduceSendsEachFloatTwiceOverNMinusOneMembers() {
    for (int members = 2; members <= 7; members++) {
      for (int length : new int[] {1, 7, 1000, 12_345}) {
        long sentFloats = 0;
        long frames = 0;
        long received = 0;
        for (int rank = 0; rank < members; rank++) {
          RingAllReduceSchedule schedule = new RingAllReduceSchedule(members, rank, length, 100);
          long sent = WireVolume.ringAllReduceSentBytes(members, rank, length, 100);
          frames += schedule.sendCount();
          sentFloats += (sent - (long) HEADER * schedule.sendCount()) / 4;
          received += WireVolume.ringAllReduceReceivedBytes(members, rank, length, 100);
        }
        // Reduce-scatter and all-gather each pass every float through N-1 links.
        assertEquals(2L * (members - 1) * length, sentFloats, members + " members, " + length + " floats");
        assertEquals(4 * sentFloats + HEADER * frames, received, "what is sent is received");
      }
    }
  }

  @Test
  void aChainBroadcastSendsTheBufferOnceOverEachLinkAndTheOwnerReceivesNothing() {
    int members = 4;
    int length = 1000;
    long total = 0;
    for (int rank = 0; rank < members; rank++) {
      long sent = WireVolume.chainBroadcastSentBytes(members, rank, 1, length, 300);
      long received = WireVolume.chainBroadcastReceivedBytes(members, rank, 1, length, 300);
      total += sent;
      if (rank == 1) {
        assertEquals(0, received, "the owner");
        assertEquals(4L * length + 4L * HEADER, sent, "four frames of at most 300 floats");
      }
    }
    // Three links carry the buffer once each; the last in the chain sends nothing.
    assertEquals(3 * (4L * length + 4L * HEADER), total);
    assertEquals(0, WireVolume.ringAllReduceSentBytes(1, 0, length, 300), "a group of one moves nothing");
  }
}
