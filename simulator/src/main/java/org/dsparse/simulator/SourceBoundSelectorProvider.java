package org.dsparse.simulator;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.nio.channels.Channel;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.AbstractSelector;
import java.nio.channels.spi.SelectorProvider;

/**
 * The platform's NIO provider, except that every TCP socket it opens is bound to one local address
 * before it connects. A shaped device's JVM runs with it ({@link ShapedLinks#sourceAddressJvmOptions}):
 * Linux gives an unbound socket to any 127.0.0.x the source 127.0.0.1, so the device's outgoing
 * connections (Artery's streams, the collectives' data links to the ring successor) would otherwise
 * miss the tc filter on the device's own address. Both open their sockets through
 * {@code SocketChannel.open()}, which comes here.
 *
 * <p>Needs {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} to reach the platform provider.
 */
public final class SourceBoundSelectorProvider extends SelectorProvider {
  static final String ADDRESS_PROPERTY = "dsparse.simulator.source-address";

  private final SelectorProvider platform;
  private final InetAddress source;

  public SourceBoundSelectorProvider() {
    try {
      platform = (SelectorProvider) Class.forName("sun.nio.ch.DefaultSelectorProvider").getMethod("get")
          .invoke(null);
      source = InetAddress.getByName(System.getProperty(ADDRESS_PROPERTY, "127.0.0.1"));
    } catch (ReflectiveOperationException | IOException e) {
      throw new IllegalStateException("cannot bind sockets to " + System.getProperty(ADDRESS_PROPERTY)
          + " (needs --add-exports java.base/sun.nio.ch=ALL-UNNAMED): " + e, e);
    }
  }

  @Override
  public SocketChannel openSocketChannel() throws IOException {
    return bound(platform.openSocketChannel());
  }

  @Override
  public SocketChannel openSocketChannel(ProtocolFamily family) throws IOException {
    SocketChannel channel = platform.openSocketChannel(family);
    return family == StandardProtocolFamily.INET ? bound(channel) : channel;
  }

  private SocketChannel bound(SocketChannel channel) throws IOException {
    try {
      channel.bind(new InetSocketAddress(source, 0));
      return channel;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  @Override
  public ServerSocketChannel openServerSocketChannel() throws IOException {
    return platform.openServerSocketChannel();
  }

  @Override
  public ServerSocketChannel openServerSocketChannel(ProtocolFamily family) throws IOException {
    return platform.openServerSocketChannel(family);
  }

  @Override
  public DatagramChannel openDatagramChannel() throws IOException {
    return platform.openDatagramChannel();
  }

  @Override
  public DatagramChannel openDatagramChannel(ProtocolFamily family) throws IOException {
    return platform.openDatagramChannel(family);
  }

  @Override
  public Pipe openPipe() throws IOException {
    return platform.openPipe();
  }

  @Override
  public AbstractSelector openSelector() throws IOException {
    return platform.openSelector();
  }

  @Override
  public Channel inheritedChannel() throws IOException {
    return platform.inheritedChannel();
  }
}
