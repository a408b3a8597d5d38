package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The lab's limits as the kernel applies them: real cgroup v1 groups (skipped, saying why, where the
 * controllers are absent or not writable).
 */
class DeviceCgroupTest {
  private static final long MIB = 1L << 20;
  private final String lab = "dsparse-test-" + ProcessHandle.current().pid();

  @BeforeEach
  void needsCgroups() {
    Assumptions.assumeTrue(DeviceCgroup.unavailable().isEmpty(),
        () -> "the lab needs cgroup v1 memory and cpu controllers as root: " + DeviceCgroup.unavailable().orElse(""));
  }

  @Test
  void theLimitsAreAppliedCheckedAndRemoved() throws Exception {
    LabProfile profile = new LabProfile("t", "test board", 300 * MIB + 123, 0.25, 0, 2);
    Path memory = DeviceCgroup.MEMORY_ROOT.resolve(lab).resolve("dev");
    Path cpu = DeviceCgroup.CPU_ROOT.resolve(lab).resolve("dev");
    try (DeviceCgroup group = DeviceCgroup.create(lab, "dev", profile)) {
      checkLimitsOf(group, memory, cpu, profile);
    } finally {
      DeviceCgroup.removeLab(lab);
    }
    assertFalse(Files.exists(memory), "the device's memory group is removed");
    assertFalse(Files.exists(DeviceCgroup.CPU_ROOT.resolve(lab)), "the lab's cpu group is removed");
  }

  private static void checkLimitsOf(DeviceCgroup group, Path memory, Path cpu, LabProfile profile) throws Exception {
    // The kernel rounds the limit down to a page; the check accepts that and nothing else.
    assertEquals((300 * MIB + 123) / 4096 * 4096, Long.parseLong(Files.readString(memory.resolve("memory.limit_in_bytes")).trim()));
    assertEquals(25_000, Long.parseLong(Files.readString(cpu.resolve("cpu.cfs_quota_us")).trim()));
    // A limit changed behind the lab's back is caught, naming the device and the file.
    Files.writeString(memory.resolve("memory.limit_in_bytes"), Long.toString(200 * MIB));
    UsageException e = assertThrows(UsageException.class, group::checkLimits);
    assertTrue(e.getMessage().contains("dev") && e.getMessage().contains("memory.limit_in_bytes"), e.getMessage());
    Files.writeString(memory.resolve("memory.limit_in_bytes"), Long.toString(profile.memoryLimitBytes()));
    group.checkLimits();

    // A process started through the group is in it; this JVM is not.
    Process inside = new ProcessBuilder(group.wrap(List.of("sleep", "30"))).start();
    try {
      waitUntilExecd(inside);
      group.checkMember(inside.pid());
      UsageException outside = assertThrows(UsageException.class, () -> group.checkMember(ProcessHandle.current().pid()));
      assertTrue(outside.getMessage().contains("not in its cgroups"), outside.getMessage());
    } finally {
      inside.destroyForcibly().waitFor();
    }
  }

  @Test
  void aProcessOverItsLimitIsKilledByTheKernelAndCounted() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 to allocate: skipped");
    LabProfile profile = new LabProfile("t", "test board", 64 * MIB, 1, 0, 1);
    try (DeviceCgroup group = DeviceCgroup.create(lab, "hog", profile)) {
      // 200 MiB written byte by byte (not calloc's untouched zero pages), then held.
      Process hog = new ProcessBuilder(group.wrap(List.of("/usr/bin/python3", "-c",
          "import time\nx = bytes(range(256)) * (200 * 4096)\ntime.sleep(30)"))).redirectErrorStream(true).start();
      assertTrue(hog.waitFor(60, TimeUnit.SECONDS), "the kernel ends it long before its sleep ends");
      assertEquals(137, hog.exitValue(), "SIGKILL from the OOM killer");
      assertEquals(1, group.oomKills());
      long peak = group.peakAnonymousBytes();
      assertTrue(peak > 16 * MIB && peak <= 64 * MIB, "the sampled peak lies below the limit, well above nothing: " + peak);

      // Within its limit a process lives and is not counted.
      Process small = new ProcessBuilder(group.wrap(List.of("/usr/bin/python3", "-c",
          "x = bytes(range(256)) * (16 * 4096)"))).start();
      assertTrue(small.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, small.exitValue());
      assertEquals(1, group.oomKills(), "still the one kill");
    } finally {
      DeviceCgroup.removeLab(lab);
    }
  }

  /** The shell joins the groups, then execs: wait until the process is the command itself. */
  private static void waitUntilExecd(Process process) throws InterruptedException {
    for (int i = 0; i < 100; i++) {
      String command = process.info().command().orElse("");
      if (command.endsWith("sleep")) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the wrapped command never started: " + process.info());
  }
}
