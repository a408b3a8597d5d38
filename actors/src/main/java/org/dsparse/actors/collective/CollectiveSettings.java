package org.dsparse.actors.collective;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * The {@code dsparse.collective} configuration block, validated: chunk size, flow-control window
 * and the progress deadline (see {@code reference.conf} of this module for what each one means).
 */
public record CollectiveSettings(int chunkBytes, int chunksInFlight, Duration deadline) {
  private static final int MIN_CHUNK_BYTES = 4 * 1024;
  /** Room left in an Artery frame for the chunk header (group id, sender path, indices). */
  static final int CHUNK_HEADER_ALLOWANCE = 2 * 1024;

  public CollectiveSettings {
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
   * Reads {@code dsparse.collective} from the actor system's configuration and checks that a chunk
   * fits into one Artery frame, since Artery drops oversized messages.
   */
  public static CollectiveSettings fromConfig(Config root) {
    try {
      Config config = root.getConfig("dsparse.collective");
      long chunkBytes = config.getBytes("chunk-size");
      if (chunkBytes > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("dsparse.collective.chunk-size is absurdly large: " + chunkBytes);
      }
      CollectiveSettings settings = new CollectiveSettings((int) chunkBytes, config.getInt("chunks-in-flight"),
          config.getDuration("deadline"));
      String framePath = "pekko.remote.artery.advanced.maximum-frame-size";
      if (root.hasPath(framePath)) {
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
