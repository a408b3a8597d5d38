package org.dsparse.actors.collective;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * The sockets of one member's bulk data path in one group: a listening socket for the link from
 * the predecessor and the link to the successor. Connections are authenticated by a token that the
 * listening member sent to its predecessor over the cluster ({@code DataLinkOffered}); anything
 * that cannot present the current token, group id and rank within {@link #HANDSHAKE_TIMEOUT_MILLIS}
 * is refused. All outcomes are reported through {@link Events}, from I/O threads. Established links
 * are handed over in non-blocking mode, for {@link TcpCollectiveRun}'s selector.
 */
final class TcpDataLinks implements AutoCloseable {
  static final int HANDSHAKE_TIMEOUT_MILLIS = 5_000;
  private static final int MAGIC = 0x44535031; // "DSP1"
  private static final byte ACCEPTED = 1;

  /** Callbacks from the I/O threads; implementations only enqueue messages to the group actor. */
  interface Events {
    void incomingEstablished(long generation, DataLink link);

    void intruderRefused(String remote, String reason);

    void outgoingEstablished(long generation, DataLink link);

    void outgoingFailed(long generation, String reason);
  }

  /** What the predecessor needs to connect: the offer's generation and token. */
  record Offer(long generation, long token) {}

  private final String groupId;
  private final int selfRank;
  private final Events events;
  /** The handshakes count as control traffic; the frames count in {@link TcpCollectiveRun}. */
  private final WireTraffic traffic;
  private final ServerSocketChannel server;
  /** The cluster's TLS context, or null: plain links. */
  private final SSLContext tls;
  /**
   * The I/O threads of every group in this JVM: accept loops and collective runs. One pool, not one
   * per group, because each run thread keeps its direct staging buffers (about 128 KiB)
   * for later runs: a device in several groups then holds buffers for the runs it has at once, not
   * for every group it belongs to, which on a small device is a visible share of its memory.
   */
  private static final ExecutorService IO = Executors.newCachedThreadPool(new ThreadFactory() {
    private final AtomicInteger threads = new AtomicInteger();

    @Override
    public Thread newThread(Runnable runnable) {
      Thread thread = new Thread(runnable, "dsparse-collective-io-" + threads.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    }
  });

  private final SecureRandom random = new SecureRandom();
  private volatile Offer expected;
  private volatile int expectedRank = -1;
  private long generations;

  private TcpDataLinks(String groupId, int selfRank, Events events, ServerSocketChannel server,
      WireTraffic traffic, SSLContext tls) {
    this.tls = tls;
    this.traffic = traffic;
    this.groupId = groupId;
    this.selfRank = selfRank;
    this.events = events;
    this.server = server;
  }

  /**
   * Listens on {@code host}, on an ephemeral port when {@code port} is 0, else on the first free one of
   * {@code port .. port + ports - 1}, and starts accepting.
   */
  static TcpDataLinks open(String groupId, int selfRank, String host, int port, int ports, Events events,
      WireTraffic traffic, SSLContext tls) throws IOException {
    ServerSocketChannel server = null;
    IOException last = null;
    for (int candidate = port; server == null && candidate < port + (port == 0 ? 1 : ports); candidate++) {
      ServerSocketChannel opened = ServerSocketChannel.open();
      try {
        opened.bind(new InetSocketAddress(host, candidate));
        server = opened;
      } catch (IOException e) {
        opened.close();
        last = e;
      }
    }
    if (server == null) {
      String where = port == 0 || ports == 1 ? host + ":" + port : host + ":" + port + "-" + (port + ports - 1);
      throw new IOException("group " + groupId + " cannot listen for its data link on " + where
          + " (dsparse.collective.tcp.port, tcp.ports): " + last.getMessage(), last);
    }
    TcpDataLinks links = new TcpDataLinks(groupId, selfRank, events, server, traffic, tls);
    IO.execute(links::acceptLoop);
    return links;
  }

  ExecutorService executor() {
    return IO;
  }

  String host() {
    return ((InetSocketAddress) localAddress()).getHostString();
  }

  int port() {
    return ((InetSocketAddress) localAddress()).getPort();
  }

  private java.net.SocketAddress localAddress() {
    try {
      return server.getLocalAddress();
    } catch (IOException e) {
      throw new IllegalStateException("data link listener of group " + groupId + " is closed", e);
    }
  }

  /** A fresh token for {@code predecessorRank}; connections presenting an older one are refused. */
  synchronized Offer newOffer(int predecessorRank) {
    Offer offer = new Offer(++generations, random.nextLong());
    expectedRank = predecessorRank;
    expected = offer;
    return offer;
  }

  /** Connects to the successor's listener in the background and presents the offer's token. */
  void connect(long generation, String host, int port, long token) {
    IO.execute(() -> {
      SocketChannel channel = null;
      try {
        channel = SocketChannel.open();
        channel.socket().connect(new InetSocketAddress(host, port), HANDSHAKE_TIMEOUT_MILLIS);
        channel.socket().setSoTimeout(HANDSHAKE_TIMEOUT_MILLIS);
        DataLink link = tls == null ? DataLink.plain(channel) : TlsDataLink.client(channel, tls, host, port);
        byte[] group = groupId.getBytes(StandardCharsets.UTF_8);
        ByteBuffer hello = ByteBuffer.allocate(4 + 4 + group.length + 4 + 8 + 8);
        hello.putInt(MAGIC).putInt(group.length).put(group).putInt(selfRank).putLong(generation).putLong(token).flip();
        link.writeFully(hello);
        traffic.sent(WireTraffic.CONTROL, hello.limit());
        int answer = link.input().read();
        traffic.received(WireTraffic.CONTROL, 1);
        if (answer != ACCEPTED) {
          throw new IOException("the successor refused the data link (answer " + answer + ")");
        }
        link.nonBlocking();
        events.outgoingEstablished(generation, link);
      } catch (IOException e) {
        closeQuietly(channel);
        events.outgoingFailed(generation, "cannot open data link to " + host + ":" + port + ": " + e.getMessage());
      }
    });
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      try {
        SocketChannel channel = server.accept();
        IO.execute(() -> handshake(channel));
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!server.isOpen()) {
          return;
        }
      }
    }
  }

  private void handshake(SocketChannel channel) {
    String remote = remoteOf(channel);
    try {
      channel.socket().setSoTimeout(HANDSHAKE_TIMEOUT_MILLIS);
      // Under TLS a peer without a certificate of the cluster's CA fails here, before it can say anything.
      DataLink link = tls == null ? DataLink.plain(channel) : TlsDataLink.server(channel, tls);
      DataInputStream in = new DataInputStream(link.input());
      if (in.readInt() != MAGIC) {
        refuse(channel, remote, "not a dsparse data link handshake");
        return;
      }
      int groupLength = in.readInt();
      if (groupLength < 0 || groupLength > 1024) {
        refuse(channel, remote, "group id length " + groupLength);
        return;
      }
      byte[] group = new byte[groupLength];
      in.readFully(group);
      int rank = in.readInt();
      long generation = in.readLong();
      long token = in.readLong();
      Offer offer = expected;
      if (!groupId.equals(new String(group, StandardCharsets.UTF_8)) || offer == null || rank != expectedRank
          || generation != offer.generation() || token != offer.token()) {
        refuse(channel, remote, "wrong group, rank, generation or token (claims rank " + rank + ")");
        return;
      }
      traffic.received(WireTraffic.CONTROL, 4 + 4 + groupLength + 4 + 8 + 8);
      link.writeFully(ByteBuffer.wrap(new byte[] {ACCEPTED}));
      traffic.sent(WireTraffic.CONTROL, 1);
      link.nonBlocking();
      events.incomingEstablished(generation, link);
    } catch (IOException e) {
      refuse(channel, remote, (tls == null ? "handshake failed: " : "TLS or handshake failed: ") + e.getMessage());
    }
  }

  private void refuse(SocketChannel channel, String remote, String reason) {
    closeQuietly(channel);
    events.intruderRefused(remote, reason);
  }

  private static String remoteOf(SocketChannel channel) {
    try {
      return String.valueOf(channel.getRemoteAddress());
    } catch (IOException e) {
      return "unknown peer";
    }
  }

  static void closeQuietly(java.io.Closeable closeable) {
    if (closeable == null) {
      return;
    }
    try {
      closeable.close();
    } catch (IOException ignored) {
      // closing is best effort: the link is being abandoned either way
    }
  }

  @Override
  public void close() {
    // Ends the accept loop; a running collective is cancelled by its group actor.
    closeQuietly(server);
  }
}
