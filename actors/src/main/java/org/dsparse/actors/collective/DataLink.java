package org.dsparse.actors.collective;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One established data link of a collective: plain TCP, or TLS on the cluster's certificates
 * ({@link TlsDataLink}). It is set up in blocking mode (the handshakes, with a deadline) and then
 * moved to non-blocking mode for {@link TcpCollectiveRun}'s selector, which registers
 * {@link #channel()} and asks the link, not the socket, whether bytes wait: TLS can hold decrypted
 * bytes the socket no longer shows, and encrypted ones not yet written.
 */
interface DataLink extends Closeable {
  SocketChannel channel();

  /** Reads what is available without blocking; -1 at the end of the stream. */
  int read(ByteBuffer target) throws IOException;

  /** Writes what the link takes without blocking; the bytes of {@code source} it consumed. */
  int write(ByteBuffer source) throws IOException;

  /** Bytes already received that a read returns without the socket being readable. */
  boolean hasBufferedInput();

  /** Bytes taken by {@link #write} and not yet on the socket. */
  boolean hasPendingOutput();

  /** Writes pending bytes without blocking; true when none are left. */
  boolean flush() throws IOException;

  /** In blocking mode: the stream of received bytes (reads time out as the socket's SO_TIMEOUT says). */
  InputStream input() throws IOException;

  /** In blocking mode: writes all of {@code source}. */
  void writeFully(ByteBuffer source) throws IOException;

  /** Ends the set-up: non-blocking from now on, with no read timeout and no send delay. */
  default void nonBlocking() throws IOException {
    channel().socket().setSoTimeout(0);
    channel().setOption(StandardSocketOptions.TCP_NODELAY, true);
    channel().configureBlocking(false);
  }

  @Override
  default void close() throws IOException {
    channel().close();
  }

  /** A link that is the socket itself. */
  static DataLink plain(SocketChannel channel) {
    return new DataLink() {
      @Override
      public SocketChannel channel() {
        return channel;
      }

      @Override
      public int read(ByteBuffer target) throws IOException {
        return channel.read(target);
      }

      @Override
      public int write(ByteBuffer source) throws IOException {
        return channel.write(source);
      }

      @Override
      public boolean hasBufferedInput() {
        return false;
      }

      @Override
      public boolean hasPendingOutput() {
        return false;
      }

      @Override
      public boolean flush() {
        return true;
      }

      @Override
      public InputStream input() throws IOException {
        return channel.socket().getInputStream();
      }

      @Override
      public void writeFully(ByteBuffer source) throws IOException {
        while (source.hasRemaining()) {
          channel.write(source);
        }
      }
    };
  }
}
