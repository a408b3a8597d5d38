package org.dsparse.simulator.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Raw loopback TCP throughput B: one plain socket moving {@code bytes} from a writer thread to a
 * reader thread, direct buffers, no framing. The ring bound of a collective is expressed in B.
 */
final class LoopbackThroughput {
  private LoopbackThroughput() {}

  /** Median bytes per second over {@code runs} transfers of {@code bytes}, after {@code warmUps}. */
  static double measure(int bytes, int warmUps, int runs) throws Exception {
    ExecutorService reader = Executors.newSingleThreadExecutor();
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (SocketChannel client = SocketChannel.open(server.getLocalAddress());
           SocketChannel accepted = server.accept()) {
        client.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ByteBuffer out = ByteBuffer.allocateDirect(1 << 20);
        ByteBuffer in = ByteBuffer.allocateDirect(1 << 20);
        double[] seconds = new double[runs];
        for (int i = 0; i < warmUps + runs; i++) {
          Future<?> drained = reader.submit(() -> {
            drain(accepted, in, bytes);
            return null;
          });
          long start = System.nanoTime();
          fill(client, out, bytes);
          drained.get();
          long elapsed = System.nanoTime() - start;
          if (i >= warmUps) {
            seconds[i - warmUps] = elapsed / 1e9;
          }
        }
        Arrays.sort(seconds);
        return bytes / seconds[runs / 2];
      }
    } finally {
      reader.shutdownNow();
    }
  }

  private static void fill(SocketChannel channel, ByteBuffer buffer, int bytes) throws IOException {
    int left = bytes;
    while (left > 0) {
      buffer.clear().limit(Math.min(buffer.capacity(), left));
      while (buffer.hasRemaining()) {
        left -= channel.write(buffer);
      }
    }
  }

  private static void drain(SocketChannel channel, ByteBuffer buffer, int bytes) throws IOException {
    int left = bytes;
    while (left > 0) {
      buffer.clear().limit(Math.min(buffer.capacity(), left));
      int read = channel.read(buffer);
      if (read < 0) {
        throw new IOException("loopback peer closed with " + left + " bytes outstanding");
      }
      left -= read;
    }
  }
}
