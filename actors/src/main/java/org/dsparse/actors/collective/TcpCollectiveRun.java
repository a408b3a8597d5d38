package org.dsparse.actors.collective;

import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.dsparse.core.collective.CollectiveSchedule;
import org.dsparse.core.collective.FloatKernels;
import org.dsparse.core.collective.ReceiveLedger;
import org.dsparse.core.collective.Region;
import org.dsparse.core.collective.Transfer;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * The data side of one collective over the bulk TCP links. One thread multiplexes both links with
 * a selector: it reads frames from the predecessor and applies them to the buffer in place, and
 * writes the chunks that thereby become ready to the successor whenever the socket takes more. TCP's
 * own window is the flow control. One thread rather than a reader and a writer because handing
 * every chunk from one thread to another costs a wake-up, which on 2 cores shared by several
 * members dominated the run time.
 *
 * <p>A frame is a 20-byte little-endian header (sequence, step, chunk index, float count) and the
 * floats as raw little-endian. The link is authenticated and ordered, so any frame the schedule does
 * not expect means the two ends disagree: the run fails on the receiving side.
 *
 * <p>A chunk is copied out of the buffer piece by piece as its frame is written, each piece before
 * it is sent: a region is rewritten only after its whole chunk went round the ring, i.e. after its
 * last piece was written.
 */
final class TcpCollectiveRun {
  static final int HEADER_BYTES = org.dsparse.core.collective.WireVolume.TCP_FRAME_HEADER_BYTES;
  /** Floats staged at a time on each side: 64 KiB, whatever the chunk size. */
  static final int PIECE_FLOATS = 16 * 1024;

  /** Which link a failure happened on, i.e. which neighbour to blame. */
  enum Side { RECEIVE, SEND }

  /** Outcome callbacks, called once from the run's thread. */
  interface Listener {
    void succeeded();

    void failed(Side side, String error);
  }


  private final long sequence;
  private final CollectiveKind kind;
  private final int members;
  private final CollectiveSchedule schedule;
  private final float[] buffer;
  private final DataLink in;
  private final DataLink out;
  private final long pollNanos;
  /** Every byte read or written on the links counts on the group's channel, frame headers included. */
  private final WireTraffic traffic;
  private final String channel;
  private final ArrayDeque<Transfer> ready = new ArrayDeque<>();
  private final AtomicLong lastProgressNanos = new AtomicLong(System.nanoTime());
  private final long createdNanos = System.nanoTime();
  private volatile long allStartedNanos;
  private volatile long firstFrameNanos;
  private volatile boolean receivedEverything;
  private volatile long cpuNanos = -1;
  private volatile boolean cancelled;
  private volatile Selector selector;
  private Future<?> worker;

  /**
   * @param pollNanos how long to poll for readiness before blocking in the selector (0: block at once).
   *     Waking a blocked thread cost 1-2 ms on the measured machine (a VM), more than a whole chunk
   *     takes on loopback, while the gap between two chunks is usually far shorter.
   */
  TcpCollectiveRun(long sequence, CollectiveKind kind, int members, CollectiveSchedule schedule, float[] buffer,
      DataLink in, DataLink out, long pollNanos, WireTraffic traffic, String channel) {
    this.traffic = traffic;
    this.channel = channel;
    this.sequence = sequence;
    this.kind = kind;
    this.members = members;
    this.schedule = schedule;
    this.buffer = buffer;
    this.in = in;
    this.out = out;
    this.pollNanos = pollNanos;
    ready.addAll(schedule.initialSends());
  }

  /** Runs the transfer on {@code executor} and tells {@code listener} how it ended. */
  void start(ExecutorService executor, Listener listener) {
    worker = executor.submit(() -> {
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long cpuAtStart = threads.getCurrentThreadCpuTime();
      try (Selector opened = Selector.open()) {
        selector = opened;
        new Transfers().run(opened);
        if (cpuAtStart >= 0) {
          cpuNanos = threads.getCurrentThreadCpuTime() - cpuAtStart;
        }
        listener.succeeded();
      } catch (SideFailure e) {
        listener.failed(e.side, describe(e.getCause()));
      } catch (IOException | RuntimeException e) {
        listener.failed(Side.RECEIVE, describe(e));
      }
    });
  }


  /** Stops the transfer; the owner closes the links, whose stream positions are now unknown. */
  void cancel() {
    cancelled = true;
    Selector current = selector;
    if (current != null) {
      current.wakeup();
    }
    if (worker != null) {
      worker.cancel(false);
    }
  }

  private static String describe(Throwable e) {
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  /** The group actor learnt that every member has started this collective. */
  void allStartedAt(long nanos) {
    allStartedNanos = nanos;
  }

  /**
   * The collective's own time so far: since every member had started it, or, when the members'
   * announcements have not arrived yet (the data can overtake them), since this member started or
   * its predecessor's first frame arrived, whichever was later.
   */
  long transferNanos() {
    long now = System.nanoTime();
    long allStarted = allStartedNanos;
    return now - (allStarted != 0 ? allStarted : Math.max(createdNanos, firstFrameNanos));
  }

  /**
   * CPU time the run's thread spent on it (system calls included), once it succeeded; -1 before, or
   * where the JVM cannot measure thread CPU time. On a host whose cores the members share, the sum
   * over members divided by the cores is a floor on the collective's time.
   */
  long cpuNanos() {
    return cpuNanos;
  }

  long lastProgressNanos() {
    return lastProgressNanos.get();
  }

  boolean receivedEverything() {
    return receivedEverything;
  }

  /**
   * The selector thread's direct staging buffers, reused by every run on that thread: only the
   * garbage collector frees a direct buffer, so fresh ones per collective pile up native memory (and
   * a device's measured training memory) between collections. A frame passes through them in pieces
   * of at most {@link #PIECE_FLOATS} floats, so their size does not grow with the chunk: a device in
   * several groups holds a few of them.
   */
  private record StagingBuffers(ByteBuffer header, ByteBuffer received, ByteBuffer sending, float[] scratch) {
    private static final ThreadLocal<StagingBuffers> CURRENT = ThreadLocal.withInitial(() -> new StagingBuffers(
        ByteBuffer.allocateDirect(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN),
        ByteBuffer.allocateDirect(PIECE_FLOATS * 4).order(ByteOrder.LITTLE_ENDIAN),
        ByteBuffer.allocateDirect(HEADER_BYTES + PIECE_FLOATS * 4).order(ByteOrder.LITTLE_ENDIAN),
        new float[PIECE_FLOATS]));

    static StagingBuffers forThisThread() {
      StagingBuffers buffers = CURRENT.get();
      buffers.header.clear();
      buffers.received.clear();
      buffers.sending.clear().limit(0);
      return buffers;
    }
  }

  /** The selector loop's state: the frame being read and the frame being written, each in pieces. */
  private final class Transfers {
    private final StagingBuffers buffers = StagingBuffers.forThisThread();
    private final ByteBuffer header = buffers.header();
    private final ByteBuffer received = buffers.received();
    private final ByteBuffer sending = buffers.sending();
    private final ReceiveLedger ledger = new ReceiveLedger(schedule);
    private Transfer receiving;
    private int receivedFloats;
    private long unreadBytes;
    private Transfer writing;
    private int writtenFloats;
    private int sent;
    private Side failing;

    /** Returns when everything was sent and received; throws {@link SideFailure} otherwise. */
    void run(Selector selector) throws IOException {
      boolean receives = schedule.receiveCount() > 0;
      boolean sends = schedule.sendCount() > 0;
      SelectionKey inKey = receives ? in.channel().register(selector, SelectionKey.OP_READ) : null;
      SelectionKey outKey = sends ? out.channel().register(selector, SelectionKey.OP_WRITE) : null;
      receivedEverything = !receives;
      try {
        while (!(receivedEverything && sent == schedule.sendCount() && !hasSomethingToWrite())) {
          if (cancelled) {
            throw new IOException("cancelled");
          }
          if (outKey != null) {
            outKey.interestOps(hasSomethingToWrite() || !ready.isEmpty() ? SelectionKey.OP_WRITE : 0);
          }
          if (inKey != null && receivedEverything) {
            // The predecessor may already be sending the next collective: leave it in the socket.
            inKey.interestOps(0);
          }
          // Bytes a TLS link already decrypted do not make its socket readable: read them first.
          boolean buffered = inKey != null && !receivedEverything && in.hasBufferedInput();
          if (selector.selectNow() == 0 && !buffered) {
            long spinUntil = System.nanoTime() + pollNanos;
            while (selector.selectNow() == 0 && System.nanoTime() < spinUntil && !cancelled) {
              Thread.onSpinWait();
            }
            if (selector.selectedKeys().isEmpty()) {
              selector.select(1_000);
            }
          }
          if (inKey != null && inKey.isValid() && (buffered || inKey.isReadable())) {
            failing = Side.RECEIVE;
            readAvailable();
          }
          if (outKey != null && outKey.isValid() && outKey.isWritable()) {
            failing = Side.SEND;
            writeAvailable();
          }
          selector.selectedKeys().clear();
        }
      } catch (IOException e) {
        throw new SideFailure(failing == null ? Side.RECEIVE : failing, e);
      } finally {
        if (inKey != null) {
          inKey.cancel();
        }
        if (outKey != null) {
          outKey.cancel();
        }
        selector.selectNow();
      }
    }

    private boolean hasSomethingToWrite() {
      return writing != null || sending.hasRemaining() || out.hasPendingOutput();
    }

    private void readAvailable() throws IOException {
      while (!receivedEverything) {
        if (receiving == null) {
          read(header);
          if (header.hasRemaining()) {
            return; // the rest arrives with a later readiness event
          }
          header.flip();
          receiving = admit(header);
          header.clear();
          receivedFloats = 0;
          unreadBytes = schedule.receiveRegion(receiving).length() * 4L;
          received.clear();
        }
        int length = schedule.receiveRegion(receiving).length();
        while (receivedFloats < length) {
          received.limit((int) Math.min(received.capacity(), received.position() + unreadBytes));
          int got = read(received);
          unreadBytes -= got;
          int floats = received.position() / 4;
          if (floats > 0) {
            received.flip();
            applyPiece(receiving, receivedFloats, received.asFloatBuffer(), floats);
            received.position(floats * 4);
            received.compact();
            receivedFloats += floats;
          }
          if (got == 0) {
            return;
          }
        }
        completed(receiving);
        receiving = null;
      }
    }

    private int read(ByteBuffer target) throws IOException {
      int got = in.read(target);
      if (got < 0) {
        throw new EOFException("the predecessor closed the data link");
      }
      traffic.received(channel, got);
      return got;
    }

    private Transfer admit(ByteBuffer header) throws IOException {
      long frameSequence = header.getLong();
      Transfer transfer = new Transfer(header.getInt(), header.getInt());
      if (firstFrameNanos == 0) {
        firstFrameNanos = System.nanoTime();
      }
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
      return transfer;
    }

    /** Floats {@code [from, from + count)} of the frame {@code transfer}, summed or copied in place. */
    private void applyPiece(Transfer transfer, int from, FloatBuffer floats, int count) {
      int at = schedule.receiveRegion(transfer).offset() + from;
      if (schedule.reducesOnReceive(transfer)) {
        floats.get(buffers.scratch(), 0, count);
        FloatKernels.addInto(buffer, at, buffers.scratch(), 0, count);
      } else {
        floats.get(buffer, at, count);
      }
      lastProgressNanos.set(System.nanoTime());
    }

    private void completed(Transfer transfer) {
      Region region = schedule.receiveRegion(transfer);
      if (kind == CollectiveKind.ALL_REDUCE_MEAN && schedule.completesReduction(transfer)) {
        FloatKernels.divide(buffer, region.offset(), region.length(), members);
      }
      lastProgressNanos.set(System.nanoTime());
      schedule.sendAfterReceiving(transfer).ifPresent(ready::add);
      receivedEverything = ledger.complete();
    }

    private void writeAvailable() throws IOException {
      while (true) {
        if (!out.flush()) {
          return;
        }
        if (!sending.hasRemaining() && !stageNextPiece()) {
          return;
        }
        int written = out.write(sending);
        if (written == 0) {
          return;
        }
        traffic.sent(channel, written);
        lastProgressNanos.set(System.nanoTime());
      }
    }

    /**
     * Copies the next piece of the frame being written (its header first) into the staging
     * buffer, starting the next ready chunk's frame when the last one is out; false when nothing is
     * ready.
     */
    private boolean stageNextPiece() {
      sending.clear();
      if (writing == null) {
        Transfer next = ready.poll();
        if (next == null) {
          sending.limit(0);
          return false;
        }
        writing = next;
        writtenFloats = 0;
        sending.putLong(sequence).putInt(next.step()).putInt(next.chunk())
            .putInt(schedule.sendRegion(next).length());
        sent++;
      }
      Region region = schedule.sendRegion(writing);
      int count = Math.min(region.length() - writtenFloats, sending.remaining() / 4);
      sending.asFloatBuffer().put(buffer, region.offset() + writtenFloats, count);
      sending.position(sending.position() + count * 4).flip();
      writtenFloats += count;
      if (writtenFloats == region.length()) {
        writing = null;
      }
      return true;
    }
  }

  /** An I/O failure and the link it happened on. */
  private static final class SideFailure extends RuntimeException {
    final Side side;

    SideFailure(Side side, IOException cause) {
      super(cause.getMessage(), cause);
      this.side = side;
    }
  }
}
