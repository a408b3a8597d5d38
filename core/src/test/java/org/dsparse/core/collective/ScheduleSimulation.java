package org.dsparse.core.collective;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.IntFunction;

/** Runs one schedule per rank against in-memory links, applying chunks the way a transport must. */
final class ScheduleSimulation {
  private ScheduleSimulation() {}

  /** Moves every chunk to its destination, interleaving ranks, and returns each rank's final buffer. */
  static float[][] run(int members, IntFunction<CollectiveSchedule> scheduleOfRank, float[][] buffers, ReduceOp op) {
    CollectiveSchedule[] schedules = new CollectiveSchedule[members];
    @SuppressWarnings("unchecked")
    Deque<Object[]>[] inboxes = new Deque[members];
    for (int r = 0; r < members; r++) {
      schedules[r] = scheduleOfRank.apply(r);
      inboxes[r] = new ArrayDeque<>();
    }
    int[] sent = new int[members];
    int[] applied = new int[members];
    for (int r = 0; r < members; r++) {
      for (Transfer t : schedules[r].initialSends()) {
        send(r, t, schedules, buffers, inboxes, sent);
      }
    }
    boolean progressed = true;
    while (progressed) {
      progressed = false;
      for (int r = 0; r < members; r++) {
        Object[] message = inboxes[r].poll();
        if (message == null) {
          continue;
        }
        progressed = true;
        Transfer t = (Transfer) message[0];
        float[] payload = (float[]) message[1];
        CollectiveSchedule s = schedules[r];
        if (!s.expectsToReceive(t)) {
          throw new AssertionError("rank " + r + " got unexpected " + t);
        }
        Region region = s.receiveRegion(t);
        if (region.length() != payload.length) {
          throw new AssertionError("rank " + r + " region " + region + " but payload " + payload.length);
        }
        if (s.reducesOnReceive(t)) {
          FloatKernels.addInto(buffers[r], region.offset(), payload, 0, payload.length);
        } else {
          System.arraycopy(payload, 0, buffers[r], region.offset(), payload.length);
        }
        if (op == ReduceOp.MEAN && s.completesReduction(t)) {
          FloatKernels.divide(buffers[r], region.offset(), region.length(), members);
        }
        applied[r]++;
        int receiver = r;
        s.sendAfterReceiving(t).ifPresent(next -> send(receiver, next, schedules, buffers, inboxes, sent));
      }
    }
    for (int r = 0; r < members; r++) {
      if (applied[r] != schedules[r].receiveCount() || sent[r] != schedules[r].sendCount()) {
        throw new AssertionError("rank " + r + " applied " + applied[r] + "/" + schedules[r].receiveCount()
            + " sent " + sent[r] + "/" + schedules[r].sendCount());
      }
    }
    return buffers;
  }

  private static void send(int from, Transfer t, CollectiveSchedule[] schedules, float[][] buffers,
      Deque<Object[]>[] inboxes, int[] sent) {
    Region region = schedules[from].sendRegion(t);
    float[] payload = new float[region.length()];
    System.arraycopy(buffers[from], region.offset(), payload, 0, region.length());
    int to = schedules[from].successor().orElseThrow();
    inboxes[to].add(new Object[] {t, payload});
    sent[from]++;
  }
}
