package org.dsparse.actors.collective;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * A data link under TLS 1.3 on the cluster's certificates: both ends present a certificate of the
 * cluster's CA, or the handshake fails. Three buffers: {@code netIn} (encrypted bytes received and not
 * yet decrypted, write mode), {@code appIn} (decrypted bytes not yet read, read mode) and {@code netOut}
 * (encrypted bytes not yet on the socket, read mode). During the set-up the socket is blocking and
 * read through its stream, whose SO_TIMEOUT gives the handshake its deadline.
 */
final class TlsDataLink implements DataLink {
  private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

  private final SocketChannel channel;
  private final SSLEngine engine;
  private ByteBuffer netIn;
  private ByteBuffer appIn;
  private final ByteBuffer netOut;
  /** Decryption stopped because appIn was full: netIn may hold whole records the socket will not announce. */
  private boolean moreToDecrypt;
  private boolean ended;

  private TlsDataLink(SocketChannel channel, SSLEngine engine) {
    this.channel = channel;
    this.engine = engine;
    engine.setEnabledProtocols(new String[] {"TLSv1.3"});
    int packet = engine.getSession().getPacketBufferSize();
    netIn = ByteBuffer.allocate(packet);
    appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()).flip();
    netOut = ByteBuffer.allocate(packet).flip();
  }

  /** The connecting end's link, handshaken: it checks the listener's certificate and shows its own. */
  static TlsDataLink client(SocketChannel channel, SSLContext context, String host, int port) throws IOException {
    SSLEngine engine = context.createSSLEngine(host, port);
    engine.setUseClientMode(true);
    TlsDataLink link = new TlsDataLink(channel, engine);
    link.handshake();
    return link;
  }

  /** The listening end's link, handshaken: the connecting end must show a certificate of the CA. */
  static TlsDataLink server(SocketChannel channel, SSLContext context) throws IOException {
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    engine.setNeedClientAuth(true);
    TlsDataLink link = new TlsDataLink(channel, engine);
    link.handshake();
    return link;
  }

  private void handshake() throws IOException {
    engine.beginHandshake();
    while (true) {
      switch (engine.getHandshakeStatus()) {
        case NEED_WRAP -> {
          wrap(NOTHING);
          flushBlocking();
        }
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
          if (!decrypt()) {
            readBlocking();
          }
        }
        case NEED_TASK -> runDelegatedTasks();
        default -> {
          flushBlocking();
          return;
        }
      }
    }
  }

  /** The engine's certificate checks and key computations, on this thread. */
  private void runDelegatedTasks() {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }

  @Override
  public SocketChannel channel() {
    return channel;
  }

  @Override
  public int read(ByteBuffer target) throws IOException {
    if (!appIn.hasRemaining()) {
      boolean decrypted = moreToDecrypt && decrypt();
      if (!decrypted) {
        int got = channel.read(netIn);
        if (got < 0) {
          ended = true;
        }
        decrypt();
      }
      if (!appIn.hasRemaining()) {
        return ended ? -1 : 0;
      }
    }
    return drainInto(target);
  }

  @Override
  public int write(ByteBuffer source) throws IOException {
    if (!flush()) {
      return 0;
    }
    int consumed = wrap(source);
    flush();
    return consumed;
  }

  @Override
  public boolean hasBufferedInput() {
    return appIn.hasRemaining() || moreToDecrypt;
  }

  @Override
  public boolean hasPendingOutput() {
    return netOut.hasRemaining();
  }

  @Override
  public boolean flush() throws IOException {
    while (netOut.hasRemaining()) {
      if (channel.write(netOut) == 0) {
        return false;
      }
    }
    return true;
  }

  @Override
  public InputStream input() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] bytes, int offset, int length) throws IOException {
        while (!appIn.hasRemaining()) {
          if (!decrypt()) {
            if (ended) {
              return -1;
            }
            readBlocking();
          }
        }
        return drainInto(ByteBuffer.wrap(bytes, offset, length));
      }
    };
  }

  @Override
  public void writeFully(ByteBuffer source) throws IOException {
    while (source.hasRemaining()) {
      wrap(source);
      flushBlocking();
    }
  }

  private int drainInto(ByteBuffer target) {
    int count = Math.min(target.remaining(), appIn.remaining());
    ByteBuffer slice = appIn.slice();
    slice.limit(count);
    target.put(slice);
    appIn.position(appIn.position() + count);
    return count;
  }

  /** Encrypts what one record takes of {@code source} into netOut; answers the bytes consumed. */
  private int wrap(ByteBuffer source) throws SSLException, EOFException {
    netOut.compact();
    SSLEngineResult result;
    try {
      result = engine.wrap(source, netOut);
    } finally {
      netOut.flip();
    }
    if (result.getStatus() == SSLEngineResult.Status.CLOSED) {
      throw new EOFException("the TLS session of the data link is closed");
    }
    return result.bytesConsumed();
  }

  /** Decrypts the whole records in netIn into appIn, as far as it has room; true if it made progress. */
  private boolean decrypt() throws IOException {
    boolean progress = false;
    moreToDecrypt = false;
    netIn.flip();
    try {
      while (netIn.hasRemaining()) {
        appIn.compact();
        SSLEngineResult result;
        try {
          result = engine.unwrap(netIn, appIn);
        } finally {
          appIn.flip();
        }
        switch (result.getStatus()) {
          case BUFFER_UNDERFLOW -> {
            growIfFull();
            return progress;
          }
          case BUFFER_OVERFLOW -> {
            if (!appIn.hasRemaining()) {
              appIn = ByteBuffer.allocate(appIn.capacity() * 2).flip();
              continue;
            }
            moreToDecrypt = true;
            return progress;
          }
          case CLOSED -> {
            ended = true;
            return progress;
          }
          default -> {
            if (result.bytesConsumed() == 0 && result.bytesProduced() == 0) {
              return progress;
            }
            progress = true;
            if (result.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
              runDelegatedTasks();
            }
          }
        }
      }
      return progress;
    } finally {
      netIn.compact();
    }
  }

  /** A record larger than netIn (it cannot be): room for it, rather than waiting forever. */
  private void growIfFull() {
    if (netIn.limit() == netIn.capacity() && netIn.position() == 0) {
      ByteBuffer bigger = ByteBuffer.allocate(netIn.capacity() * 2);
      bigger.put(netIn);
      bigger.flip();
      netIn = bigger;
    }
  }

  private void readBlocking() throws IOException {
    InputStream in = channel.socket().getInputStream();
    int got = in.read(netIn.array(), netIn.arrayOffset() + netIn.position(), netIn.remaining());
    if (got < 0) {
      ended = true;
      throw new EOFException("the peer closed the data link during its set-up");
    }
    netIn.position(netIn.position() + got);
  }

  private void flushBlocking() throws IOException {
    if (netOut.hasRemaining()) {
      OutputStream out = channel.socket().getOutputStream();
      out.write(netOut.array(), netOut.arrayOffset() + netOut.position(), netOut.remaining());
      netOut.position(netOut.limit());
    }
  }
}
