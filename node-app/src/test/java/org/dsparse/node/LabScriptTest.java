package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.dsparse.core.lab.JvmSizing;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.lab.LabProfiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code tools/lab}: the catalogue it lists is LabProfiles', and where this machine lets it make cgroup
 * v1 groups (root), a device's groups get the profile's limits, node-app sizes its JVM from them, and
 * the groups are gone once the node exits. Skipped, saying why, where the groups cannot be made.
 */
class LabScriptTest {
  private static final Path SCRIPT = Path.of("..", "tools", "lab").toAbsolutePath().normalize();
  private static final Path MEMORY = Path.of("/sys/fs/cgroup/memory/dsparse-lab");
  private static final Path CPU = Path.of("/sys/fs/cgroup/cpu/dsparse-lab");

  record Run(int exit, String output) {}

  private static Run lab(String... args) throws IOException, InterruptedException {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
    command.addAll(List.of(args));
    if (!args[0].equals("stop")) {
      command.addAll(3, List.of("--classpath", classpath));
    }
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("JAVA", ProcessHandle.current().info().command().orElse("java"));
    builder.environment().remove(SizedJvm.ENV);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    return new Run(process.exitValue(), output);
  }

  @Test
  void listPrintsTheCatalogue() throws Exception {
    Run run = lab("list");
    assertEquals(0, run.exit(), run.output());
    for (LabProfile p : LabProfiles.all()) {
      assertTrue(run.output().lines().anyMatch(l -> l.startsWith(p.name() + " ")
          && l.contains(" " + (p.memoryLimitBytes() >> 20) + " ")), p.name() + "\n" + run.output());
    }
  }

  @Test
  void anUnknownProfileIsOneLineNamingTheKnownOnes() throws Exception {
    Run run = lab("start", "--profile", "pi9-1t", "--name", "t0");
    assertEquals(2, run.exit(), run.output());
    assertEquals(1, run.output().lines().count(), run.output());
    assertTrue(run.output().contains("'pi9-1t': no such lab profile; known: pi3-1g"), run.output());
  }

  @Test
  void aDeviceGetsItsProfilesGroupsAndLosesThemWhenItExits() throws Exception {
    LabProfile profile = LabProfiles.named("pi4-2g", "test");
    Run dry = lab("start", "--profile", "pi4-2g", "--name", "t1", "--dry-run", "--port", "0");
    Assumptions.assumeFalse(dry.exit() == 77, () -> dry.output().strip());
    assertEquals(0, dry.exit(), dry.output());
    assertTrue(dry.output().contains("tools/lab: device t1 as pi4-2g: memory.limit_in_bytes = "
        + profile.memoryLimitBytes() + " (" + (profile.memoryLimitBytes() >> 20) + " MiB), cpu.cfs_quota_us = "
        + profile.cfsQuotaMicros() + " of " + profile.cfsPeriodMicros()), dry.output());
    assertTrue(dry.output().contains("org.dsparse.node.NodeMain start --name t1 --budget auto --port 0"),
        dry.output());
    assertGone("t1");

    // A real start that node-app ends at once (its config is missing), after it sized its JVM from the
    // group's limit; the group is watched while the node runs.
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    ProcessBuilder builder = new ProcessBuilder("bash", SCRIPT.toString(), "start", "--profile", "pi4-2g", "--name",
        "t2", "--classpath", classpath, "--config", "/nonexistent-lab.conf").redirectErrorStream(true);
    builder.environment().put("JAVA", ProcessHandle.current().info().command().orElse("java"));
    builder.environment().remove(SizedJvm.ENV);
    Process start = builder.start();
    long limitSeen = -1;
    Path limitFile = MEMORY.resolve("t2").resolve("memory.limit_in_bytes");
    while (start.isAlive()) {
      try {
        limitSeen = Long.parseLong(Files.readString(limitFile).trim());
      } catch (IOException | NumberFormatException e) {
        // Not made yet, or removed.
      }
      Thread.sleep(20);
    }
    String output = new String(start.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, start.exitValue(), output);
    assertEquals(profile.memoryLimitBytes(), limitSeen, output);
    assertTrue(output.contains("node-app: JVM for " + (profile.memoryLimitBytes() >> 20) + " MiB of RAM (cgroup limit):"
        + " heap " + (JvmSizing.forRam(profile.memoryLimitBytes()).heapBytes() >> 20) + " MiB"), output);
    assertTrue(output.contains("node-app: --config: /nonexistent-lab.conf does not exist"), output);
    assertGone("t2");
  }

  private static void assertGone(String name) {
    assertFalse(Files.exists(MEMORY.resolve(name)) || Files.exists(CPU.resolve(name)), name + "'s groups remain");
  }
}
