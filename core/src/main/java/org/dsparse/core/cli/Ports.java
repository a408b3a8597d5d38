package org.dsparse.core.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Checks a port before a server library binds it, to report a port in use as one line naming the setting. */
public final class Ports {
  private Ports() {}

  /**
   * Binds and frees {@code host:port} (nothing for port 0, which takes any free port); a port this
   * process cannot bind is an IllegalArgumentException naming {@code setting}. The libraries that bind
   * after it (Pekko's TCP listener) log a failed bind with a stack trace.
   */
  public static void checkFree(String setting, String host, int port) {
    if (port <= 0) {
      return;
    }
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(host, port));
    } catch (IOException e) {
      throw new IllegalArgumentException(setting + ": cannot listen on " + host + ":" + port + ": " + e.getMessage());
    }
  }
}
