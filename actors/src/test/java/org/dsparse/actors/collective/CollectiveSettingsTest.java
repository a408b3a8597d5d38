package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.Address;
import org.junit.jupiter.api.Test;

class CollectiveSettingsTest {

  private static Config withDefaults(String overrides) {
    return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.load()).resolve();
  }

  @Test
  void theShippedDefaultsAreValid() {
    CollectiveSettings settings = CollectiveSettings.fromConfig(withDefaults(""));
    assertEquals(settings.chunkBytes() / 4, settings.chunkFloats());
    assertTrue(settings.deadline().compareTo(Duration.ZERO) > 0);
  }

  @Test
  void aChunkThatDoesNotFitAnArteryFrameIsRefusedNamingBothSettings() {
    var error = assertThrows(IllegalArgumentException.class, () -> CollectiveSettings.fromConfig(withDefaults(
        "dsparse.collective { transport = artery, chunk-size = 1 MiB }\n"
            + "pekko.remote.artery.advanced.maximum-frame-size = 256 KiB")));
    assertTrue(error.getMessage().contains("dsparse.collective.chunk-size"), error.getMessage());
    assertTrue(error.getMessage().contains("maximum-frame-size"), error.getMessage());
  }

  @Test
  void nonsenseValuesAreRefusedNamingTheSetting() {
    for (String bad : List.of("dsparse.collective.chunk-size = 1000001", "dsparse.collective.chunk-size = 100",
        "dsparse.collective.chunks-in-flight = 0", "dsparse.collective.deadline = 0 s",
        "dsparse.collective.deadline = soon", "dsparse.collective.transport = pigeon",
        "dsparse.collective.tcp.port = 70000", "dsparse.collective.tcp.poll-before-blocking = 1 s")) {
      var error = assertThrows(IllegalArgumentException.class, () -> CollectiveSettings.fromConfig(withDefaults(bad)));
      assertTrue(error.getMessage().contains("dsparse.collective"), bad + " -> " + error.getMessage());
    }
  }

  @Test
  void groupSpecsRefuseDuplicateOrNonClusterMembers() {
    Address a = new Address("pekko", "sys", "127.0.0.1", 2551);
    assertThrows(IllegalArgumentException.class, () -> new GroupSpec("g", List.of(a, a)));
    assertThrows(IllegalArgumentException.class, () -> new GroupSpec("g", List.of(new Address("pekko", "sys"))));
    assertThrows(IllegalArgumentException.class, () -> new GroupSpec("bad id", List.of(a)));
    assertThrows(IllegalArgumentException.class, () -> new GroupSpec("g", List.of()));
  }
}
