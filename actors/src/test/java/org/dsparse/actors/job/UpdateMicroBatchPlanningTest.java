package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/**
 * {@code update-micro-batch}: the planner plans with one micro-batch's activations, so a small device
 * can afford layers whose activations it could not hold for the whole batch.
 */
class UpdateMicroBatchPlanningTest {
  private static PlannedJob plan(Object microBatch, List<DeviceInfo> devices) {
    Config config = ConfigFactory.parseString("dsparse.job { model = mobilenetv2, batch = 32, id = mb,"
        + " checkpoint-dir = \"\", update-micro-batch = " + microBatch + ", planner.strategy = suffix }")
        .withFallback(ConfigFactory.load());
    JobSpec spec = JobConfig.read(config).spec();
    return DjlThread.call(() -> JobPlanning.plan(spec, devices, config));
  }

  private static DeviceInfo device(String name, long mib) {
    return new DeviceInfo(name, "pekko://dsparse@127.0.0.1:" + (2700 + name.charAt(0)), mib << 20, null);
  }

  @Test
  void aSmallDeviceUpdatesMoreLayersWhenItsBackwardRunsInMicroBatches() {
    List<DeviceInfo> devices = List.of(device("big", 4096), device("small", 60));
    PlannedJob whole = plan(0, devices);
    PlannedJob parts = plan(8, devices);
    int wholeLayers = whole.assignments().get("small").updatedLayers().size();
    int partLayers = parts.assignments().get("small").updatedLayers().size();
    assertTrue(partLayers > wholeLayers, "small updates " + wholeLayers + " layers with whole batches, "
        + partLayers + " with micro-batches of 8:\n" + parts.description());
    assertTrue(parts.assignments().get("small").predictedPeakBytes() <= 60L << 20, parts.description());
    assertEquals(whole.assignments().get("big").updatedLayers(), parts.assignments().get("big").updatedLayers());
  }

  @Test
  void withAutoEachDeviceRunsTheLargestMicroBatchThatFitsIt() {
    List<DeviceInfo> devices = List.of(device("big", 4096), device("mid", 120), device("small", 60));
    PlannedJob auto = plan("auto", devices);
    Config config = ConfigFactory.parseString("dsparse.job { model = mobilenetv2, batch = 32, id = mb,"
        + " checkpoint-dir = \"\" }").withFallback(ConfigFactory.load());
    assertEquals(0, auto.assignments().get("big").updateMicroBatch(), "room for whole batches");
    int small = auto.assignments().get("small").updateMicroBatch();
    assertTrue(small >= JobSpec.SMALLEST_MICRO_BATCH && small < 32, auto.description());
    for (var a : auto.assignments().values()) {
      DeviceInfo d = devices.stream().filter(x -> x.name().equals(a.device())).findFirst().orElseThrow();
      assertTrue(a.predictedPeakBytes() <= d.budgetBytes(), a.device() + ": " + auto.description());
      if (a.updateMicroBatch() == 0) {
        continue;
      }
      // One step larger (twice the micro-batch, or the whole batch) would not fit.
      int larger = a.updateMicroBatch() * 2 >= 32 ? 0 : a.updateMicroBatch() * 2;
      long peak = DjlThread.call(() -> {
        try (var model = org.dsparse.training.model.Models.create("mobilenetv2", new ai.djl.ndarray.types.Shape(1, 28,
            28), 10, 1)) {
          var updated = new java.util.BitSet();
          a.updatedLayers().forEach(updated::set);
          double[] fractions = new double[model.layerCount()];
          updated.stream().forEach(l -> fractions[l] = 1);
          return new org.dsparse.core.memory.MemoryModel(model.layerCosts(),
              org.dsparse.training.profile.MemoryModels.clusterDeviceCoefficients(config)).withFrozenPrefixMicroBatch(8)
              .withUpdateMicroBatch(larger).predict(org.dsparse.core.memory.UpdateSet.ofFractions(fractions), 32,
                  org.dsparse.core.memory.OptimizerKind.SGD_MOMENTUM).totalBytes();
        }
      });
      assertTrue(peak > d.budgetBytes(), a.device() + " could run micro-batches of " + larger);
    }
    assertTrue(auto.description().contains("update micro-batches (auto, batch 32): big whole"), auto.description());
  }
}
