package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import org.dsparse.actors.job.JobReport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lab device pushed over its limit: three device processes, each in its own cgroups, run the full
 * update with the planner's memory check off, and the device whose limit cannot hold it is killed by
 * the kernel. The job names it: elastic, it goes on without it; not elastic, it fails naming it and
 * the OOM kill. Skipped, saying why, where the cgroup v1 controllers are absent or not writable.
 */
class LabJobTest {

  @BeforeEach
  void needsCgroups() {
    Assumptions.assumeTrue(DeviceCgroup.unavailable().isEmpty(),
        () -> "the lab needs cgroup v1 memory and cpu controllers as root: " + DeviceCgroup.unavailable().orElse(""));
  }

  /**
   * MobileNetV2's full update needs about 100 MiB beside a device JVM's 335 MiB: 384 MiB cannot hold it,
   * 768 MiB can. Half a core each, so that the test is quick and nothing is oversubscribed.
   */
  private static Config lab(boolean elastic, String tightMemory) {
    return ConfigFactory.parseString("""
        dsparse.simulation {
          name = lab-test
          processes = true
          modes = [full]
          devices = [
            { name = roomy-a, profile { memory = 768MiB, cpu = 0.5, link = loopback } }
            { name = roomy-b, profile { memory = 768MiB, cpu = 0.5, link = loopback } }
            { name = tight, profile { memory = %s, cpu = 0.5, link = loopback } }
          ]
        }
        dsparse.job {
          mode = full
          model = mobilenetv2
          data = embedded
          epochs = 1
          max-steps-per-epoch = 8
          evaluate-every = 0
          checkpoint-dir = ""
          overlap = off
          planner.memory-check = off
          elastic.enabled = %s
        }
        pekko.loglevel = WARNING
        pekko.cluster.failure-detector.acceptable-heartbeat-pause = 20 s
        """.formatted(tightMemory, elastic ? "on" : "off")).withFallback(ConfigFactory.load()).resolve();
  }

  /**
   * Elastic: a lost device is recovered from only after the job's first committed step, so the device
   * is pushed over its limit mid-job, as another program on a board would push it: once step 3 is done,
   * its group's limit drops to what it holds plus 16 MiB, and its next step's allocations meet the
   * OOM killer.
   */
  @Test
  void elasticTheJobGoesOnWithoutTheDeviceTheKernelKilled(@TempDir Path dir) throws Exception {
    Config config = lab(true, "768MiB");
    SimulationConfig simulation = SimulationConfig.read(config);
    java.util.concurrent.atomic.AtomicBoolean squeezed = new java.util.concurrent.atomic.AtomicBoolean();
    Simulation runner = new Simulation(simulation, config, dir, line -> { }, event -> {
      if (event instanceof org.dsparse.actors.job.JobEvent.StepReported step && step.step() >= 3
          && squeezed.compareAndSet(false, true)) {
        squeeze("tight");
      }
    });
    JobReport report = runner.runJob(simulation.job(), runner.budgets(), simulation.devices());

    assertTrue(squeezed.get(), "the test squeezed the device after step 3");
    LabMeasure tight = runner.labMeasures(report.spec().jobId()).get("tight");
    assertTrue(tight.oomKilled(), "the kernel killed the device pushed over its limit: " + tight);
    assertFalse(runner.labMeasures(report.spec().jobId()).get("roomy-a").oomKilled());
    assertTrue(report.recoveries().stream().anyMatch(r -> r.lost().contains("tight")),
        "a recovery names the lost device: " + report.recoveries());
    assertEquals(List.of("roomy-a", "roomy-b"), report.devices().stream().map(JobReport.DeviceReport::name).sorted()
        .toList(), "the job ended on the devices left");
    assertTrue(report.steps() >= 8, "it trained to the end: " + report.steps() + " steps");
  }

  /** Lowers the memory limit of this JVM's lab device {@code device} to what it holds plus 16 MiB. */
  private static void squeeze(String device) {
    String prefix = "dsparse-lab-" + ProcessHandle.current().pid() + "-";
    try (var labs = java.nio.file.Files.list(DeviceCgroup.MEMORY_ROOT)) {
      Path group = labs.filter(p -> p.getFileName().toString().startsWith(prefix)).map(p -> p.resolve(device))
          .filter(java.nio.file.Files::isDirectory).findFirst().orElseThrow();
      long anonymous = org.dsparse.core.lab.KernelMemory.anonymousBytes(
          java.nio.file.Files.readString(group.resolve("memory.stat")));
      java.nio.file.Files.writeString(group.resolve("memory.limit_in_bytes"), Long.toString(anonymous + (16L << 20)));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void notElasticTheJobFailsNamingTheDeviceAndTheKill(@TempDir Path dir) throws Exception {
    Config config = lab(false, "384MiB");
    SimulationConfig simulation = SimulationConfig.read(config);
    Simulation runner = new Simulation(simulation, config, dir, line -> { });
    Simulation.SimulationFailedException e = assertThrows(Simulation.SimulationFailedException.class,
        () -> runner.runJob(simulation.job(), runner.budgets(), simulation.devices()));
    assertTrue(e.getMessage().contains("device tight ") && e.getMessage().contains("OOM killer"), e.getMessage());
    assertTrue(runner.labMeasures(simulation.job().spec().jobId()).get("tight").oomKilled());
  }
}
