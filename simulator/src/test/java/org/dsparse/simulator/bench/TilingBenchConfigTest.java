package org.dsparse.simulator.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabLaunch;
import org.dsparse.simulator.SimulationConfig;
import org.junit.jupiter.api.Test;

/**
 * bench/tiling's shipped config: its devices on the lab within 1.8 cores at every tile count, the head
 * first with the most memory; the job of each tile count differs from the others in mode and tile group
 * only; the summary's speed-ups are taken against the one device of the same run.
 */
class TilingBenchConfigTest {
  private static final Config ROOT = ConfigFactory.parseFile(Path.of("..", "conf", "bench-tiling.conf").toFile())
      .withFallback(ConfigFactory.load()).resolve();

  @Test
  void theShippedConfigRunsEveryTileCountOnTheLab() {
    SimulationConfig simulation = SimulationConfig.read(ROOT);
    TilingBench.Settings settings = TilingBench.Settings.read(ROOT, simulation);
    List<DeviceProfile> devices = simulation.devices();
    assertTrue(simulation.processes());
    for (int k : settings.tiles()) {
      double cores = devices.subList(0, k).stream().mapToDouble(d -> d.lab().orElseThrow().cpuCores()).sum();
      assertTrue(cores <= 1.8 + 1e-9, "k = " + k + ": " + cores + " cores");
    }
    LabProfile head = devices.get(0).lab().orElseThrow();
    assertEquals(1280L << 20, head.memoryLimitBytes());
    devices.subList(1, devices.size()).forEach(d -> assertTrue(d.lab().orElseThrow().memoryLimitBytes()
        < head.memoryLimitBytes(), d.name() + " would head the tile group in place of " + devices.get(0).name()));
    assertTrue(devices.stream().allMatch(d -> d.linkBitsPerSecond() == 50_000_000L), "50 Mbit/s links");
    assertEquals("20 s", ROOT.getString(LabLaunch.FAILURE_DETECTOR_PAUSE));
  }

  @Test
  void eachTileCountsJobDiffersInModeAndTileGroupOnly() {
    JobSpec one = TilingBench.job(ROOT, 1, JobSpec.Tiling.BEST_GROUPING, "t1").spec();
    assertEquals(JobSpec.Mode.FULL, one.mode());
    assertTrue(!one.tiling().enabled());
    JobConfig four = TilingBench.job(ROOT, 4, JobSpec.Tiling.FIXED_GROUPING, "t4");
    JobSpec tiled = four.spec();
    assertEquals(JobSpec.Mode.DSPARSE, tiled.mode());
    assertEquals(4, tiled.tiling().count());
    assertEquals(4, four.devices());
    assertEquals(JobSpec.Tiling.FIXED_GROUPING, tiled.tiling().grouping());
    assertEquals(7, tiled.tiling().layers());
    assertEquals(tiled.withMode(JobSpec.Mode.FULL, "t1").withTiling(JobSpec.Tiling.NONE), one,
        "the same data, seed, batch, steps and protocol");
    assertEquals(500, one.testImages());
    assertEquals(1, one.averagingInterval(), "the synchronous protocol, pinned");
    assertEquals(JobSpec.Overlap.Kind.OFF, one.overlap().kind(), "overlap pinned off");
    assertEquals(JobSpec.NO_SCALING, tiled.learningRateScaling(), "every layer at one rate, as on one device");
  }

  @Test
  void aTileCountBeyondTheDevicesIsRefusedNamingTheKey() {
    Config c = ConfigFactory.parseString("dsparse.bench.tiling.tiles = [1, 7]").withFallback(ROOT);
    UsageException e = assertThrows(UsageException.class,
        () -> TilingBench.Settings.read(c, SimulationConfig.read(c)));
    assertTrue(e.getMessage().startsWith("dsparse.bench.tiling.tiles: 7"), e.getMessage());
    Config none = ConfigFactory.parseString("dsparse.bench.tiling.tiles = [2, 4]").withFallback(ROOT);
    assertThrows(UsageException.class, () -> TilingBench.Settings.read(none, SimulationConfig.read(none)),
        "without the one device there is nothing to take a speed-up against");
  }

  @Test
  void speedUpsAreTakenAgainstTheOneDeviceOfTheSameRun() {
    List<JsonObject> oneOf3 = List.of(row(1, 1, 1000), row(1, 2, 2000), row(1, 3, 4000));
    List<JsonObject> fourOf3 = List.of(row(4, 1, 1000), row(4, 2, 500), row(4, 3, 4000));
    // Per run 1, 4 and 1: median 1; medians of the steps would give 2000 / 1000 = 2.
    assertEquals(1.0, TilingBench.summary("4", fourOf3, oneOf3).get("speedup").getAsDouble(), 1e-9);
    assertEquals(1000.0, TilingBench.summary("4", fourOf3, oneOf3).get("stepMillisMedian").getAsDouble(), 1e-9);
  }

  private static JsonObject row(int k, int run, double stepMillis) {
    JsonObject r = new JsonObject();
    r.addProperty("k", k);
    r.addProperty("run", run);
    r.addProperty("grid", "2x2");
    r.addProperty("groups", "[0-2, 3]");
    r.addProperty("predictedTiledMillis", 800.0);
    r.addProperty("stepMillisMedian", stepMillis);
    r.addProperty("computeMillisMedian", stepMillis / 2);
    r.addProperty("sentBytesPerStep", 1e6);
    r.addProperty("exchangeBytesPerStep", 5e5);
    r.addProperty("testAccuracy", 0.5);
    r.add("kernelPeakAnonymousBytesMax", com.google.gson.JsonNull.INSTANCE);
    r.add("headKernelPeakAnonymousBytes", com.google.gson.JsonNull.INSTANCE);
    r.add("membersKernelPeakAnonymousBytesMax", com.google.gson.JsonNull.INSTANCE);
    return r;
  }
}
