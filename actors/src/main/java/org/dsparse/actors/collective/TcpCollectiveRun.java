package org.dsparse.actors.collective;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.core.collective.FloatKernels;
import org.dsparse.core.collective.ReceiveLedger;
import org.dsparse.core.collective.Region;
import org.dsparse.core.collective.Transfer;
import org.dsparse.protocol.collective.CollectiveKind;

/**
 * The data side of one collective over the bulk TCP links: a receiver thread reads frames from the
 * predecessor and applies them to the buffer in place, a sender thread writes the chunks that
 * become ready to the successor. TCP's own window is the flow control.
 *
 * <p>A frame is a 20-byte little-endian header (sequence, step, chunk index, float count) and the
 * floats as raw little-endian. The link is authenticated and ordered, so any frame the schedule does
 * not expect means the two ends disagree: the run fails naming the predecessor.
 *
 * <p>The sender copies a chunk out of the buffer before the receiver can overwrite that region:
 * the region is rewritten only after the chunk went round the ring, i.e. after it was written.
 */
final class TcpCollectiveRun {
  static final int HEADER_BYTES = 20;

  /** Which link a failure happened on, i.e. which neighbour to blame. */
  enum Side { RECEIVE, SEND }

  private final long sequence;
  private final CollectiveKind kind;
  private final int members;
  private final CollectiveSchedule schedule;
  private final float[] buffer;
  private final SocketChannel in;
  private final SocketChannel out;
  private final int chunkFloats;
  private final LinkedBlockingQueue<Transfer> ready = new LinkedBlockingQueue<>();
  private final AtomicLong lastProgressNanos = new AtomicLong(System.nanoTime());
  private volatile boolean receivedEverything;
  private Future<?> receiver;
  private Future<?> sender;

  TcpCollectiveRun(long sequence, CollectiveKind kind, int members, CollectiveSchedule schedule, float[] buffer,
      SocketChannel in, SocketChannel out, int chunkFloats) {
    this.sequence = sequence;
    this.kind = kind;
    this.members = members;
    this.schedule = schedule;
    this.buffer = buffer;
    this.in = in;
    this.out = out;
    this.chunkFloats = chunkFloats;
    ready.addAll(schedule.initialSends());
  }

  /**
   * Starts both directions; {@code finished} gets each side once, with null or the error message.
   * A side with nothing to do finishes at once.
   */
  void start(ExecutorService executor, BiConsumer<Side, String> finished) {
    receiver = executor.submit(() -> finished.accept(Side.RECEIVE, run(this::receive)));
    sender = executor.submit(() -> finished.accept(Side.SEND, run(this::send)));
  }

  /** Stops both threads; interrupting a thread blocked on a channel closes that channel. */
  void cancel() {
    if (receiver != null) {
      receiver.cancel(true);
    }
    if (sender != null) {
      sender.cancel(true);
    }
  }

  long lastProgressNanos() {
    return lastProgressNanos.get();
  }

  boolean receivedEverything() {
    return receivedEverything;
  }

  private interface Work {
    void run() throws IOException, InterruptedException;
  }

  private static String run(Work work) {
    try {
      work.run();
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "cancelled";
    } catch (IOException | RuntimeException e) {
      return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
  }

  private void receive() throws IOException {
    if (schedule.receiveCount() == 0) {
      receivedEverything = true;
      return;
    }
    ByteBuffer header = ByteBuffer.allocateDirect(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer payload = ByteBuffer.allocateDirect(chunkFloats * 4).order(ByteOrder.LITTLE_ENDIAN);
    float[] scratch = new float[chunkFloats];
    ReceiveLedger ledger = new ReceiveLedger(schedule);
    while (!ledger.complete()) {
      header.clear();
      readFully(header);
      header.flip();
      long frameSequence = header.getLong();
      Transfer transfer = new Transfer(header.getInt(), header.getInt());
      int length = header.getInt();
      if (frameSequence != sequence) {
        throw new IOException("frame of collective " + frameSequence + " while running " + sequence);
      }
      if (!schedule.expectsToReceive(transfer) || length != schedule.receiveRegion(transfer).length()) {
        throw new IOException("unexpected frame " + transfer + " of " + length + " floats");
      }
      if (ledger.admit(transfer).isPresent()) {
        throw new IOException("duplicate frame " + transfer);
      }
      Region region = schedule.receiveRegion(transfer);
      payload.clear().limit(length * 4);
      readFully(payload);
      payload.flip();
      FloatBuffer floats = payload.asFloatBuffer();
      if (schedule.reducesOnReceive(transfer)) {
        floats.get(scratch, 0, length);
        FloatKernels.addInto(buffer, region.offset(), scratch, 0, length);
      } else {
        floats.get(buffer, region.offset(), length);
      }
      if (kind == CollectiveKind.ALL_REDUCE_MEAN && schedule.completesReduction(transfer)) {
        FloatKernels.divide(buffer, region.offset(), length, members);
      }
      lastProgressNanos.set(System.nanoTime());
      schedule.sendAfterReceiving(transfer).ifPresent(ready::add);
    }
    receivedEverything = true;
  }

  private void send() throws IOException, InterruptedException {
    int count = schedule.sendCount();
    if (count == 0) {
      return;
    }
    ByteBuffer frame = ByteBuffer.allocateDirect(HEADER_BYTES + chunkFloats * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      Transfer transfer = ready.take();
      Region region = schedule.sendRegion(transfer);
      frame.clear();
      frame.putLong(sequence).putInt(transfer.step()).putInt(transfer.chunk()).putInt(region.length());
      frame.asFloatBuffer().put(buffer, region.offset(), region.length());
      frame.position(HEADER_BYTES + region.length() * 4).flip();
      while (frame.hasRemaining()) {
        out.write(frame);
      }
      lastProgressNanos.set(System.nanoTime());
    }
  }

  private void readFully(ByteBuffer target) throws IOException {
    while (target.hasRemaining()) {
      if (in.read(target) < 0) {
        throw new EOFException("the predecessor closed the data link");
      }
    }
  }
}
