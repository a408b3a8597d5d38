package org.dsparse.simulator;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;

/**
 * Run by {@link ShapedLinksTest} in a network namespace: sends {@code args[0]} bytes to a listener on
 * {@code args[1]} from a socket opened the way Artery and the data links open theirs (unbound
 * {@code SocketChannel.open()}), and prints {@code <listener address> <milliseconds>} once the
 * listener has read them all.
 */
public final class ShapedLinksProbe {
  private ShapedLinksProbe() {}

  public static void main(String[] args) throws Exception {
    long total = Long.parseLong(args[0]);
    String host = args[1];
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      CompletableFuture<Long> received = CompletableFuture.supplyAsync(() -> {
        try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
          byte[] buffer = new byte[64 * 1024];
          long count = 0;
          for (int n; (n = in.read(buffer)) >= 0; ) {
            count += n;
          }
          return count;
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      long start = System.nanoTime();
      try (SocketChannel channel = SocketChannel.open()) {
        channel.connect(new InetSocketAddress(host, server.getLocalPort()));
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        for (long sent = 0; sent < total; ) {
          chunk.clear().limit((int) Math.min(chunk.capacity(), total - sent));
          sent += channel.write(chunk);
        }
      }
      long count = received.get();
      if (count != total) {
        throw new IllegalStateException("received " + count + " of " + total + " bytes");
      }
      System.out.println(host + " " + (System.nanoTime() - start) / 1_000_000);
    }
  }
}
