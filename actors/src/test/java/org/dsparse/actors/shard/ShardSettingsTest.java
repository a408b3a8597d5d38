package org.dsparse.actors.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ShardSettingsTest {
  @Test
  void referenceDefaultsAreValid() {
    ShardSettings settings = ShardSettings.fromConfig(ConfigFactory.load());
    assertEquals(Duration.ofSeconds(10), settings.rebalanceInterval());
    assertEquals(2, settings.maxSimultaneousMoves());
  }

  @Test
  void badValuesNameTheirKey() {
    var zeroMoves = assertThrows(IllegalArgumentException.class, () -> ShardSettings.fromConfig(
        ConfigFactory.parseString("dsparse.shard.max-simultaneous-moves = 0").withFallback(ConfigFactory.load())));
    assertTrue(zeroMoves.getMessage().contains("dsparse.shard.max-simultaneous-moves"), zeroMoves.getMessage());
    var notADuration = assertThrows(IllegalArgumentException.class, () -> ShardSettings.fromConfig(
        ConfigFactory.parseString("dsparse.shard.directory.read-timeout = soon").withFallback(ConfigFactory.load())));
    assertTrue(notADuration.getMessage().contains("read-timeout"), notADuration.getMessage());
    var zero = assertThrows(IllegalArgumentException.class, () -> ShardSettings.fromConfig(
        ConfigFactory.parseString("dsparse.shard.rebalance-interval = 0 s").withFallback(ConfigFactory.load())));
    assertTrue(zero.getMessage().contains("dsparse.shard.rebalance-interval"), zero.getMessage());
  }

  @Test
  void aWeightsChunkMustFitAnArteryFrame() {
    var tooLarge = assertThrows(IllegalArgumentException.class, () -> ShardSettings.fromConfig(ConfigFactory.parseString(
        "dsparse.shard.weights-chunk-size = 255 KiB").withFallback(ConfigFactory.load())));
    assertTrue(tooLarge.getMessage().contains("maximum-frame-size"), tooLarge.getMessage());
    var odd = assertThrows(IllegalArgumentException.class, () -> ShardSettings.fromConfig(ConfigFactory.parseString(
        "dsparse.shard.weights-chunk-size = 1001 B").withFallback(ConfigFactory.load())));
    assertTrue(odd.getMessage().contains("dsparse.shard.weights-chunk-size"), odd.getMessage());
    assertEquals(32 * 1024, ShardSettings.fromConfig(ConfigFactory.load()).weightsChunkFloats());
  }

  @Test
  void deviceEntriesAreValidated() {
    new DeviceEntry("a", "pekko://sys@127.0.0.1:2552", 10, 5);
    var badAddress = assertThrows(IllegalArgumentException.class,
        () -> new DeviceEntry("a", "not an address", 10, 5));
    assertTrue(badAddress.getMessage().contains("device a"), badAddress.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new DeviceEntry(" ", "pekko://sys@127.0.0.1:2552", 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new DeviceEntry("a", "pekko://sys@127.0.0.1:2552", -1, 0));
  }
}
