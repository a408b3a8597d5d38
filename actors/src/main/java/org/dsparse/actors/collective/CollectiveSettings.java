package org.dsparse.actors.collective;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * The {@code dsparse.collective} configuration block, validated: transport, chunk size,
 * flow-control window, progress deadline, data ports and polling (see {@code reference.conf} of this module for what each one means).
 */
public record CollectiveSettings(Transport transport, int chunkBytes, int chunksInFlight, Duration deadline,
    int dataPort, int dataPorts, Duration pollBeforeBlocking) {

  /** How chunks travel between neighbours; control messages always use the cluster (Artery). */
  public enum Transport {
    /** A TCP connection per neighbour pair, set up and supervised by the group actors. */
    TCP,
    /** Chunk messages over Artery, paced by credits. */
    ARTERY
  }

  private static final int MIN_CHUNK_BYTES = 4 * 1024;
  /** Room left in an Artery frame for the chunk header (group id, sender path, indices). */
  static final int CHUNK_HEADER_ALLOWANCE = 2 * 1024;

  public CollectiveSettings {
    java.util.Objects.requireNonNull(transport, "transport");
    if (pollBeforeBlocking.isNegative() || pollBeforeBlocking.compareTo(Duration.ofMillis(10)) > 0) {
      throw new IllegalArgumentException("dsparse.collective.tcp.poll-before-blocking must be in [0, 10 ms], was "
          + pollBeforeBlocking);
    }
    if (dataPort < 0 || dataPort > 65535) {
      throw new IllegalArgumentException("dsparse.collective.tcp.port must be in [0, 65535], was " + dataPort);
    }
    if (dataPorts < 1 || dataPort + dataPorts - 1 > 65535) {
      throw new IllegalArgumentException("dsparse.collective.tcp.ports must be at least 1 and end by port 65535, was "
          + dataPorts + " from port " + dataPort);
    }
    if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes % 4 != 0) {
      throw new IllegalArgumentException("dsparse.collective.chunk-size must be a multiple of 4 bytes and >= "
          + MIN_CHUNK_BYTES + ", was " + chunkBytes);
    }
    if (chunksInFlight < 1) {
      throw new IllegalArgumentException("dsparse.collective.chunks-in-flight must be >= 1, was " + chunksInFlight);
    }
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("dsparse.collective.deadline must be positive, was " + deadline);
    }
  }

  /**
   * Reads {@code dsparse.collective} from the actor system's configuration and, for the Artery
   * transport, checks that a chunk fits into one Artery frame, since Artery drops oversized messages.
   */
  public static CollectiveSettings fromConfig(Config root) {
    try {
      Config config = root.getConfig("dsparse.collective");
      long chunkBytes = config.getBytes("chunk-size");
      if (chunkBytes > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("dsparse.collective.chunk-size is absurdly large: " + chunkBytes);
      }
      String transportName = config.getString("transport");
      Transport transport;
      try {
        transport = Transport.valueOf(transportName.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("dsparse.collective.transport must be tcp or artery, was " + transportName);
      }
      CollectiveSettings settings = new CollectiveSettings(transport, (int) chunkBytes,
          config.getInt("chunks-in-flight"), config.getDuration("deadline"), config.getInt("tcp.port"), config.getInt("tcp.ports"),
          config.getDuration("tcp.poll-before-blocking"));
      String framePath = "pekko.remote.artery.advanced.maximum-frame-size";
      if (transport == Transport.ARTERY && root.hasPath(framePath)) {
        long frame = root.getBytes(framePath);
        if (chunkBytes + CHUNK_HEADER_ALLOWANCE > frame) {
          throw new IllegalArgumentException("dsparse.collective.chunk-size (" + chunkBytes + " bytes) plus "
              + CHUNK_HEADER_ALLOWANCE + " bytes of header does not fit " + framePath + " (" + frame
              + " bytes): lower the chunk size or raise the frame size");
        }
      }
      return settings;
    } catch (ConfigException e) {
      throw new IllegalArgumentException("invalid dsparse.collective configuration: " + e.getMessage(), e);
    }
  }

  public int chunkFloats() {
    return chunkBytes / 4;
  }
}
