package org.dsparse.simulator.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.dsparse.core.cli.UsageException;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabLaunch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bench/faults' bookkeeping: a fault the job did not survive cost an unknown number of steps, which
 * neither the fault's record, nor the sums over faults, nor the printed table may show as 0.
 */
class FaultsBenchTest {

  @Test
  void anUnsurvivedFaultsLostStepsAreUnknownNotZero() {
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", "kill -9");
    FaultsBench.unsurvived(fault, "the job did not recover");

    assertTrue(fault.get("committedStepsLost").isJsonNull(), fault.toString());
    assertTrue(fault.get("stepsRedone").isJsonNull(), fault.toString());
    assertTrue(fault.get("detectedSeconds").isJsonNull(), fault.toString());
    assertTrue(fault.get("trainingAgainSeconds").isJsonNull(), fault.toString());
  }

  @Test
  void sumsSkipUnknownLostStepsAndCountThem() {
    JsonArray faults = new JsonArray();
    faults.add(survived("kill -9", 4.5, 16.8, 3, 2));
    faults.add(survived("kill -9", 4.7, 23.8, 1, 0));
    JsonObject lost = new JsonObject();
    lost.addProperty("kind", "kill -9");
    FaultsBench.unsurvived(lost, "the job did not recover");
    faults.add(lost);
    faults.add(survived("restart", 7.5, 11.8, 0, 0));

    FaultsReport.Summary summary = FaultsReport.summarize(faults);
    assertEquals(3, summary.survived());
    assertEquals(2, summary.committedStepsLost());
    assertEquals(4, summary.stepsRedone());
    assertEquals(1, summary.lostStepsUnknown(), "the unsurvived fault's lost steps are unknown");
    assertEquals(4.7, summary.maxDetectedSeconds(), 1e-9);
    assertEquals(23.8, summary.maxTrainingAgainSeconds(), 1e-9, "restarts are not in the maxima");

    List<String> table = FaultsReport.table(faults);
    String kill = table.stream().filter(l -> l.startsWith("kill -9")).findFirst().orElseThrow();
    assertTrue(kill.contains("4 + 1 unknown (?)") && kill.contains("2 + 1 unknown (?)"), kill);
    assertTrue(kill.contains("4.6 / 4.7") && kill.contains("20.3 / 23.8"),
        "medians and maxima over the survived faults: " + kill);
    String restart = table.stream().filter(l -> l.startsWith("restart")).findFirst().orElseThrow();
    assertTrue(!restart.contains("?") && restart.trim().endsWith("0"), restart);
  }

  /** The shipped config runs on the lab: seven boards within 1.8 cores, their pause for every node. */
  @Test
  void theShippedConfigNamesALabProfileForEveryDevice() {
    Path config = Path.of("..", "conf", "bench-faults.conf");
    List<DeviceProfile> devices = FaultsBench.devices(config);
    assertEquals(List.of("d1", "d2", "d3", "d4", "d5", "d6", "d7"), devices.stream().map(DeviceProfile::name).toList());
    assertTrue(devices.stream().allMatch(d -> d.lab().isPresent() && d.autoBudget()), devices.toString());
    double cores = devices.stream().mapToDouble(d -> d.lab().get().cpuCores()).sum();
    assertTrue(cores <= 1.8 + 1e-9, "the lab's quotas sum to " + cores + " cores");
    var base = ConfigFactory.parseFile(config.toFile()).withFallback(ConfigFactory.load()).resolve();
    assertEquals("20 s", base.getString(LabLaunch.FAILURE_DETECTOR_PAUSE));
    JsonObject lab = FaultsBench.labDescription(devices, base);
    assertEquals(cores, lab.get("labCpuCores").getAsDouble(), 1e-9);
    JsonObject d7 = lab.getAsJsonArray("devices").get(6).getAsJsonObject();
    assertEquals("pi3-1g", d7.getAsJsonObject("profile").get("name").getAsString(), d7.toString());
  }

  /** The pre-lab copy keeps the earlier setting: d1..d7 with fixed budgets, no kernel limits. */
  @Test
  void thePreLabConfigKeepsTheFixedBudgets() throws Exception {
    Path config = Path.of("..", "conf", "pre-lab", "bench-faults.conf");
    List<DeviceProfile> devices = FaultsBench.devices(config);
    assertEquals("1GiB", devices.get(0).budget());
    assertEquals("160MiB", devices.get(6).budget());
    assertTrue(devices.stream().noneMatch(d -> d.lab().isPresent()), devices.toString());
    var base = ConfigFactory.parseFile(config.toFile()).withFallback(ConfigFactory.load()).resolve();
    assertTrue(FaultsBench.labDescription(devices, base).getAsJsonArray("devices").get(0).getAsJsonObject()
        .get("profile").isJsonNull());
    // The copy is the file as it was, below its one header line.
    String copy = Files.readString(config);
    assertTrue(copy.startsWith("# Pre-lab:"), copy.lines().findFirst().orElse(""));
    assertTrue(copy.contains("dsparse.job {") && !copy.contains("profile"), copy);
  }

  @Test
  void aScheduleOfOtherThanSevenDevicesIsRefused(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("six.conf");
    Files.writeString(config, "dsparse.simulation.devices = [ { name = a, profile = pi3-1g }, "
        + "{ name = b, profile = { memory = 512MiB, cpu = 0.2, link = 50mbit } } ]\n");
    UsageException e = assertThrows(UsageException.class, () -> FaultsBench.devices(config));
    assertTrue(e.getMessage().contains("needs 7 devices, got 2"), e.getMessage());
  }

  private static JsonObject survived(String kind, double detected, double again, long redone, long lost) {
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", kind);
    fault.addProperty("survived", true);
    fault.addProperty("detectedSeconds", detected);
    fault.addProperty("trainingAgainSeconds", again);
    fault.addProperty("stepsRedone", redone);
    fault.addProperty("committedStepsLost", lost);
    return fault;
  }
}
