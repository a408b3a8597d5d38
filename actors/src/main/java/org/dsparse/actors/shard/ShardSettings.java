package org.dsparse.actors.shard;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/** The {@code dsparse.shard} configuration block (documented in the actors module's reference.conf). */
public record ShardSettings(Duration rebalanceInterval, int maxSimultaneousMoves,
    Duration directoryWriteTimeout, Duration directoryReadTimeout) {
  private static final String PATH = "dsparse.shard";

  public ShardSettings {
    positive("rebalance-interval", rebalanceInterval);
    positive("directory.write-timeout", directoryWriteTimeout);
    positive("directory.read-timeout", directoryReadTimeout);
    if (maxSimultaneousMoves < 1) {
      throw new IllegalArgumentException(PATH + ".max-simultaneous-moves must be at least 1, got "
          + maxSimultaneousMoves);
    }
  }

  /** Reads {@code dsparse.shard} from the system's configuration; bad values name their key. */
  public static ShardSettings fromConfig(Config root) {
    try {
      Config c = root.getConfig(PATH);
      return new ShardSettings(c.getDuration("rebalance-interval"), c.getInt("max-simultaneous-moves"),
          c.getDuration("directory.write-timeout"), c.getDuration("directory.read-timeout"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad " + PATH + " configuration: " + e.getMessage(), e);
    }
  }

  private static void positive(String key, Duration value) {
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(PATH + "." + key + " must be positive, got " + value);
    }
  }
}
