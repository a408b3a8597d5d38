package org.dsparse.actors.shard;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/** The {@code dsparse.shard} configuration block (documented in the actors module's reference.conf). */
public record ShardSettings(Duration rebalanceInterval, int maxSimultaneousMoves,
    Duration directoryWriteTimeout, Duration directoryReadTimeout, int weightsChunkBytes) {
  /** Room Artery needs beside a chunk's floats in one frame (envelope, manifest, sharding wrapper). */
  private static final int FRAME_OVERHEAD = 2048;

  private static final String PATH = "dsparse.shard";

  public ShardSettings {
    positive("rebalance-interval", rebalanceInterval);
    positive("directory.write-timeout", directoryWriteTimeout);
    positive("directory.read-timeout", directoryReadTimeout);
    if (weightsChunkBytes < 4 || weightsChunkBytes % 4 != 0) {
      throw new IllegalArgumentException(PATH + ".weights-chunk-size must be a positive multiple of 4 bytes, got "
          + weightsChunkBytes);
    }
    if (maxSimultaneousMoves < 1) {
      throw new IllegalArgumentException(PATH + ".max-simultaneous-moves must be at least 1, got "
          + maxSimultaneousMoves);
    }
  }

  /** Reads {@code dsparse.shard} from the system's configuration; bad values name their key. */
  public static ShardSettings fromConfig(Config root) {
    try {
      Config c = root.getConfig(PATH);
      ShardSettings settings = new ShardSettings(c.getDuration("rebalance-interval"),
          c.getInt("max-simultaneous-moves"), c.getDuration("directory.write-timeout"),
          c.getDuration("directory.read-timeout"), c.getBytes("weights-chunk-size").intValue());
      String frameKey = "pekko.remote.artery.advanced.maximum-frame-size";
      if (root.hasPath(frameKey) && settings.weightsChunkBytes() + FRAME_OVERHEAD > root.getBytes(frameKey)) {
        throw new IllegalArgumentException(PATH + ".weights-chunk-size (" + settings.weightsChunkBytes()
            + " bytes) must leave " + FRAME_OVERHEAD + " bytes of " + frameKey + " (" + root.getBytes(frameKey)
            + ") for headers");
      }
      return settings;
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad " + PATH + " configuration: " + e.getMessage(), e);
    }
  }

  /** Floats per weights message. */
  public int weightsChunkFloats() {
    return weightsChunkBytes / 4;
  }

  private static void positive(String key, Duration value) {
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(PATH + "." + key + " must be positive, got " + value);
    }
  }
}
