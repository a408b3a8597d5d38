package org.dsparse.simulator.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.dsparse.core.cli.UsageException;
import org.dsparse.simulator.LabLaunch;
import org.junit.jupiter.api.Test;

/** bench/tiling's shipped configs: on the lab within 1.8 cores at every tile count; the pre-lab copy off it. */
class TilingBenchConfigTest {

  private static Config root(Path file) {
    return ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.load()).resolve();
  }

  @Test
  void theShippedConfigRunsTheTileDevicesOnTheLab() {
    Config root = root(Path.of("..", "conf", "bench-tiling.conf"));
    Config c = root.getConfig("dsparse.bench.tiling");
    TilingBench.Lab lab = TilingBench.Lab.read(c).orElseThrow();
    assertEquals(1280L << 20, lab.of(0, false).memoryLimitBytes(), "the one device and the head");
    assertEquals(768L << 20, lab.of(1, false).memoryLimitBytes(), "a member");
    assertEquals(768L << 20, lab.of(0, true).memoryLimitBytes(), "the tiled layers alone stand for a member");
    List<Integer> tiles = c.getIntList("tiles");
    for (int k : tiles) {
      assertTrue(lab.cores(k) <= 1.8 + 1e-9, "k = " + k + ": " + lab.cores(k) + " cores");
    }
    assertEquals(1.44, lab.cores(6), 1e-9);
    assertEquals("20 s", root.getString(LabLaunch.FAILURE_DETECTOR_PAUSE));
    JsonObject json = TilingBench.labJson(lab, tiles);
    assertEquals(0.24, json.getAsJsonObject("head").get("cpuQuota").getAsDouble(), 1e-9);
    assertEquals(1.44, json.getAsJsonObject("cpuCoresByK").get("6").getAsDouble(), 1e-9);
  }

  @Test
  void thePreLabCopyHasNoKernelLimits() throws Exception {
    Path file = Path.of("..", "conf", "pre-lab", "bench-tiling.conf");
    assertEquals(Optional.empty(), TilingBench.Lab.read(root(file).getConfig("dsparse.bench.tiling")));
    assertTrue(Files.readString(file).startsWith("# Pre-lab:"));
  }

  @Test
  void aMemberProfileWithoutTheHeadsIsRefused() {
    Config c = ConfigFactory.parseString("member-profile = pi4-1g");
    UsageException e = assertThrows(UsageException.class, () -> TilingBench.Lab.read(c));
    assertTrue(e.getMessage().contains("member-profile"), e.getMessage());
    assertEquals("pi4-1g", TilingBench.Lab.read(ConfigFactory.parseString("profile = pi4-1g")).orElseThrow()
        .member().name(), "the members take profile's board by default");
  }
}
