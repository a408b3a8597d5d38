package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;

class JobConfigTest {
  private static Config with(String override) {
    return ConfigFactory.parseString(override).withFallback(ConfigFactory.load()).resolve();
  }

  @Test
  void compressionIsOffByDefaultAndNamedInTheProtocolWhenOn() {
    assertEquals("none", JobConfig.read(ConfigFactory.load()).spec().compression().kind());
    assertEquals("sync-overlap-dynamic", JobConfig.read(ConfigFactory.load()).spec().protocol());
    assertEquals("sync-overlap-dynamic-topk-50x",
        JobConfig.read(with("dsparse.job.compression.kind = topk")).spec().protocol());
    assertEquals("sync-overlap-dynamic-sketch-20x",
        JobConfig.read(with("dsparse.job.compression { kind = sketch, ratio = 20 }")).spec().protocol());
    assertEquals("sync-overlap-dynamic-sketch-50x-r5-v0.50", JobConfig.read(
        with("dsparse.job.compression { kind = sketch, rows = 5, values-share = 0.5 }")).spec().protocol());
    UsageException e = assertThrows(UsageException.class,
        () -> JobConfig.read(with("dsparse.job.compression { kind = sketch, values-share = 1 }")));
    assertTrue(e.getMessage().contains("dsparse.job.compression.values-share"), e.getMessage());
  }

  @Test
  void theDefaultsDescribeAValidJobWithAMicroBatchedFrozenPrefix() {
    JobConfig job = JobConfig.read(ConfigFactory.load());
    assertEquals(8, job.spec().frozenPrefixMicroBatch());
    assertTrue(job.elasticity().enabled(), "jobs survive lost devices by default");
    assertEquals(3, job.elasticity().maxRecoveriesWithoutProgress());
    assertEquals(0, JobConfig.read(with("dsparse.job.frozen-prefix-micro-batch = 0")).spec().frozenPrefixMicroBatch());
  }

  @Test
  void tilingIsOffByDefaultAndTakesNamesOrACount() {
    assertTrue(!JobConfig.read(ConfigFactory.load()).spec().tiling().enabled());
    var named = JobConfig.read(with("dsparse.job.tiling { devices = [pi-a, pi-b], layers = 5 }")).spec().tiling();
    assertEquals(2, named.count());
    assertEquals(5, named.layers());
    assertEquals(3, JobConfig.read(with("dsparse.job.tiling.count = 3")).spec().tiling().count());
    UsageException full = assertThrows(UsageException.class,
        () -> JobConfig.read(with("dsparse.job { mode = full, tiling.count = 2 }")));
    assertTrue(full.getMessage().contains("dsparse.job.tiling.count") && full.getMessage().contains("mode full"),
        full.getMessage());
  }

  @Test
  void subModelsAreNeverRefreshedSoRefreshCompressionIsRefusedThere() {
    UsageException e = assertThrows(UsageException.class, () -> JobConfig.read(with(
        "dsparse.job { mode = submodels, partition = \"classes:2-3\", refresh-compression.kind = topk }")));
    assertTrue(e.getMessage().startsWith("dsparse.job.refresh-compression.kind = 'topk'"), e.getMessage());
  }

  @Test
  void updateMicroBatchesAreAutoOrANumberAndNotForTilesOrSubModels() {
    assertEquals(org.dsparse.protocol.job.JobSpec.AUTO_MICRO_BATCH,
        JobConfig.read(with("dsparse.job.update-micro-batch = auto")).spec().updateMicroBatch());
    assertEquals(8, JobConfig.read(with("dsparse.job.update-micro-batch = 8")).spec().updateMicroBatch());
    UsageException tiles = assertThrows(UsageException.class, () -> JobConfig.read(with(
        "dsparse.job { mode = dsparse, update-micro-batch = auto, tiling.count = 2 }")));
    assertTrue(tiles.getMessage().startsWith("dsparse.job.update-micro-batch = 'auto'"), tiles.getMessage());
  }

  @Test
  void theUniformTailIsAPlannerStrategyOfItsOwn() {
    assertEquals("uniform-tail",
        JobConfig.read(with("dsparse.job.planner.strategy = uniform-tail")).spec().planner().strategy());
    UsageException e = assertThrows(UsageException.class,
        () -> JobConfig.read(with("dsparse.job.planner.strategy = tail")));
    assertTrue(e.getMessage().contains("dsparse.job.planner.strategy") && e.getMessage().contains("uniform-tail"),
        e.getMessage());
  }

  @Test
  void aBadValueIsRefusedNamingItsKey() {
    for (String bad : new String[] {"frozen-prefix-micro-batch = -1", "batch = 0", "planner.shared-tail-layers = -2",
        "partition = \"by-label\"", "partition = \"classes:two\"", "partition = \"classes:0+1,\"",
        "optimizer = rmsprop",
        "learning-rate-scaling = linear", "elastic.abandon-timeout = 0s", "elastic.removal-wait = -1s",
        "elastic.max-recoveries-without-progress = 0", "tiling.count = 1", "tiling.devices = [pi]",
        "tiling.devices = [pi, pi]", "tiling.layers = 0", "tiling.flops-per-second = 0", "submodels.compute-share = 0",
        "submodels.relevance-samples = 0", "submodels.statistics-samples = 0", "submodels.calibration-steps = -1",
        "test-images = -1", "tiling.grouping = every-2", "update-micro-batch = many", "update-micro-batch = -1"}) {
      UsageException e = assertThrows(UsageException.class, () -> JobConfig.read(with("dsparse.job." + bad)));
      String key = bad.substring(0, bad.indexOf(' '));
      assertTrue(e.getMessage().contains("dsparse.job." + key), bad + " -> " + e.getMessage());
    }
  }
}
