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
  private static PlannedJob plan(int microBatch, List<DeviceInfo> devices) {
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
}
