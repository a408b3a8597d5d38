package org.dsparse.simulator.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * Plain sockets on loopback, direct buffers, no framing, no arithmetic: what the machine allows.
 * {@link #measure} is the raw throughput B of one stream, in which the ring bound of a collective
 * is expressed. {@link #ringMillis} moves a collective's per-link volumes over all its links at
 * once, as the members would, but with nothing else to do: on loopback every link shares the same
 * CPUs, so this, not the textbook bound, is the floor the collectives can approach.
 */
final class LoopbackThroughput {
  private LoopbackThroughput() {}

  /**
   * Median bytes per second over {@code runs} transfers of {@code bytes} to a listener on {@code host}
   * (a loopback address; a shaped one when links are shaped), after {@code warmUps}.
   */
  static double measure(String host, int bytes, int warmUps, int runs) throws Exception {
    ExecutorService reader = Executors.newSingleThreadExecutor();
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(host, 0));
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

  /**
   * Median milliseconds, over {@code runs} after {@code warmUps}, for {@code members} links in a ring
   * (member i to member i+1) to each move {@code bytesPerLink} at the same time, one writer and one
   * reader thread per link, in writes of {@code chunkBytes}.
   *
   * @param links how many of the ring's links carry data: {@code members} for a ring AllReduce,
   *     {@code members - 1} for a chain Broadcast (the last member forwards nothing)
   * @param host member i's listening address
   */
  static double ringMillis(IntFunction<String> host, int members, int links, long bytesPerLink, int chunkBytes, int warmUps, int runs)
      throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(2 * links);
    List<SocketChannel> open = new ArrayList<>();
    try {
      List<ServerSocketChannel> servers = new ArrayList<>();
      for (int i = 0; i < members; i++) {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(host.apply(i), 0));
        servers.add(server);
      }
      SocketChannel[] out = new SocketChannel[links];
      SocketChannel[] in = new SocketChannel[links];
      for (int i = 0; i < links; i++) {
        ServerSocketChannel successor = servers.get((i + 1) % members);
        out[i] = SocketChannel.open(successor.getLocalAddress());
        out[i].setOption(StandardSocketOptions.TCP_NODELAY, true);
        in[i] = successor.accept();
        open.add(out[i]);
        open.add(in[i]);
      }
      for (ServerSocketChannel server : servers) {
        server.close();
      }
      ByteBuffer[] writeBuffers = new ByteBuffer[links];
      ByteBuffer[] readBuffers = new ByteBuffer[links];
      for (int i = 0; i < links; i++) {
        writeBuffers[i] = ByteBuffer.allocateDirect(chunkBytes);
        readBuffers[i] = ByteBuffer.allocateDirect(chunkBytes);
      }
      double[] millis = new double[runs];
      for (int run = 0; run < warmUps + runs; run++) {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < links; i++) {
          int link = i;
          done.add(threads.submit(() -> {
            go.await();
            fill(out[link], writeBuffers[link], bytesPerLink);
            return null;
          }));
          done.add(threads.submit(() -> {
            go.await();
            drain(in[link], readBuffers[link], bytesPerLink);
            return null;
          }));
        }
        long start = System.nanoTime();
        go.countDown();
        for (Future<?> f : done) {
          f.get();
        }
        if (run >= warmUps) {
          millis[run - warmUps] = (System.nanoTime() - start) / 1e6;
        }
      }
      return CollectiveBenchmark.median(millis);
    } finally {
      threads.shutdownNow();
      for (SocketChannel channel : open) {
        channel.close();
      }
    }
  }

  private static void fill(SocketChannel channel, ByteBuffer buffer, long bytes) throws IOException {
    long left = bytes;
    while (left > 0) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), left));
      while (buffer.hasRemaining()) {
        left -= channel.write(buffer);
      }
    }
  }

  private static void drain(SocketChannel channel, ByteBuffer buffer, long bytes) throws IOException {
    long left = bytes;
    while (left > 0) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), left));
      int read = channel.read(buffer);
      if (read < 0) {
        throw new IOException("loopback peer closed with " + left + " bytes outstanding");
      }
      left -= read;
    }
  }
}
