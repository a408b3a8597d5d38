package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.lab.JvmSizing;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.lab.LabProfiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A lab device's command line, inspected without starting it: its JVM options (sized from its RAM, the
 * cluster's heartbeat pause) before the main class, the whole command inside its cgroups, and
 * {@code --budget auto}; off the lab, the fixed heap and the budget given.
 */
class LabLaunchTest {
  private static final Config BASE = ConfigFactory.parseString(
      LabLaunch.FAILURE_DETECTOR_PAUSE + " = 20 s").withFallback(ConfigFactory.load());
  private static final String MAIN = DeviceProcess.class.getName();

  @Test
  void aLabDeviceIsSizedFromItsRamAndWrappedWithAutoBudget() {
    LabProfile pi3 = LabProfiles.named("pi3-1g", "test");
    List<String> args = List.of("--name", "d7", "--budget", DeviceProfile.AUTO);
    List<String> command = LabLaunch.inGroups(pi3, c -> {
      List<String> wrapped = new ArrayList<>(List.of("WRAP", "/sys/fs/cgroup/memory/lab/d7",
          "/sys/fs/cgroup/cpu/lab/d7", "--"));
      wrapped.addAll(c);
      return wrapped;
    }, DeviceProcess.class, args, BASE).command();

    assertEquals(List.of("WRAP", "/sys/fs/cgroup/memory/lab/d7", "/sys/fs/cgroup/cpu/lab/d7", "--"),
        command.subList(0, 4), "the whole command runs in the device's groups: " + command);
    int main = command.indexOf(MAIN);
    assertTrue(main > 4, command.toString());
    List<String> jvm = command.subList(5, main);
    for (String option : JvmSizing.forRam(pi3.memoryLimitBytes()).options()) {
      assertTrue(jvm.contains(option), option + " is a JVM option, before the main class: " + command);
    }
    assertTrue(jvm.contains("-D" + LabLaunch.FAILURE_DETECTOR_PAUSE + "=20 s"), command.toString());
    assertEquals(args, command.subList(main + 1, command.size()), "the device's arguments after the main class");
  }

  @Test
  void offTheLabADeviceGetsTheFixedHeapAndItsBudget() {
    assertEquals("160MiB", LabLaunch.budget(null, "160MiB"));
    List<String> command = LabLaunch.builder(null, "384m", DeviceProcess.class,
        List.of("--budget", LabLaunch.budget(null, "160MiB")), BASE).command();
    int main = command.indexOf(MAIN);
    assertTrue(command.subList(0, main).containsAll(List.of("-Xms384m", "-Xmx384m")), command.toString());
    assertFalse(command.get(0).equals("/bin/sh"), "no cgroups: " + command);
    assertFalse(command.stream().anyMatch(s -> s.contains(LabLaunch.FAILURE_DETECTOR_PAUSE)), command.toString());
    assertEquals(List.of("--budget", "160MiB"), command.subList(main + 1, command.size()));
  }

  /** With real groups (root and cgroup v1 only): the shell joins the device's own groups, then execs. */
  @Test
  void aRealGroupWrapsTheCommandWithItsPaths() {
    Assumptions.assumeTrue(DeviceCgroup.unavailable().isEmpty(),
        () -> "the lab needs cgroup v1 memory and cpu controllers as root: " + DeviceCgroup.unavailable().orElse(""));
    String lab = "dsparse-launch-test-" + ProcessHandle.current().pid();
    try (DeviceCgroup cgroup = DeviceCgroup.create(lab, "d7", LabProfiles.named("pi3-1g", "test"))) {
      assertEquals(DeviceProfile.AUTO, LabLaunch.budget(cgroup, "160MiB"));
      List<String> command = LabLaunch.builder(cgroup, "384m", DeviceProcess.class,
          List.of("--budget", LabLaunch.budget(cgroup, "160MiB")), BASE).command();
      assertEquals("/bin/sh", command.get(0), command.toString());
      assertEquals(DeviceCgroup.MEMORY_ROOT.resolve(lab).resolve("d7").toString(), command.get(3));
      assertEquals(DeviceCgroup.CPU_ROOT.resolve(lab).resolve("d7").toString(), command.get(4));
      int main = command.indexOf(MAIN);
      assertTrue(command.subList(0, main).contains("-Xmx192m"), "pi3-1g's heap, not the fixed one: " + command);
      assertFalse(command.contains("-Xmx384m"), command.toString());
      assertEquals(List.of("--budget", "auto"), command.subList(main + 1, command.size()));
    } finally {
      DeviceCgroup.removeLab(lab);
    }
  }
}
