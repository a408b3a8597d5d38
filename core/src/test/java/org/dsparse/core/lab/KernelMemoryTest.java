package org.dsparse.core.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kernel's files as a Debian 12 kernel (6.1, cgroup v1) writes them. */
class KernelMemoryTest {
  private static final String PROC_STATUS = """
      Name:\tjava
      Umask:\t0022
      State:\tS (sleeping)
      VmPeak:\t 5048124 kB
      VmSize:\t 4983612 kB
      VmHWM:\t  412260 kB
      VmRSS:\t  398112 kB
      RssAnon:\t  301540 kB
      RssFile:\t   96572 kB
      RssShmem:\t       0 kB
      Threads:\t47
      """;

  private static final String MEMORY_STAT = """
      cache 12759040
      rss 4648960
      rss_huge 0
      shmem 10395648
      mapped_file 8454144
      hierarchical_memory_limit 268435456
      total_cache 3294621696
      total_rss 50884608
      total_rss_huge 0
      """;

  @Test
  void residentMemoryAndItsAnonymousPartAreReadInBytes() {
    assertEquals(398112L * 1024, KernelMemory.vmRssBytes(PROC_STATUS));
    assertEquals(301540L * 1024, KernelMemory.rssAnonBytes(PROC_STATUS));
  }

  @Test
  void aStatusWithoutTheFieldsReadsZero() {
    // A kernel thread has no VmRSS; kernels before 4.5 write no RssAnon.
    assertEquals(0, KernelMemory.vmRssBytes("Name:\tkthreadd\nState:\tS (sleeping)\n"));
    assertEquals(0, KernelMemory.rssAnonBytes("VmRSS:\t 100 kB\n"));
  }

  @Test
  void theMemoryLineNamesTheGroupAndTheRootIsNone() {
    String cgroups = """
        9:name=systemd:/
        8:pids:/
        4:memory:/lab/pi4
        1:cpu,cpuacct:/lab/pi4
        0::/
        """;
    assertEquals(Optional.of("/lab/pi4"), KernelMemory.memoryCgroupPath(cgroups));
    assertEquals(Optional.empty(), KernelMemory.memoryCgroupPath("4:memory:/\n1:cpu:/lab\n"));
    // cgroup v2 only: no memory line of v1.
    assertEquals(Optional.empty(), KernelMemory.memoryCgroupPath("0::/user.slice\n"));
    // Controllers mounted together.
    assertEquals(Optional.of("/x"), KernelMemory.memoryCgroupPath("3:cpuset,memory:/x\n"));
  }

  @Test
  void anonymousMemoryIsTotalRssOrElseRssNeverCache() {
    assertEquals(50884608L, KernelMemory.anonymousBytes(MEMORY_STAT));
    assertEquals(4648960L, KernelMemory.anonymousBytes("cache 99\nrss 4648960\nrss_huge 0\n"));
    assertEquals(0, KernelMemory.anonymousBytes("cache 99\n"));
  }

  @Test
  void oomKillsAreCountedAndOlderKernelsReadZero() {
    assertEquals(3, KernelMemory.oomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"));
    assertEquals(0, KernelMemory.oomKills("oom_kill_disable 0\nunder_oom 0\n"));
  }

  @Test
  void aLimitNearTwoToTheSixtyThreeIsNone() {
    assertEquals(OptionalLong.of(64L << 20), KernelMemory.limitBytes("67108864\n"));
    assertEquals(OptionalLong.empty(), KernelMemory.limitBytes("9223372036854771712\n"));
    assertEquals(OptionalLong.empty(), KernelMemory.limitBytes("max\n"));
  }

  @Test
  void aGroupsFilesAreReadTogether(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("memory.stat"), MEMORY_STAT);
    Files.writeString(dir.resolve("memory.usage_in_bytes"), "3345506304\n");
    Files.writeString(dir.resolve("memory.limit_in_bytes"), "268435456\n");
    Files.writeString(dir.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    KernelMemory.Cgroup group = KernelMemory.readCgroup(dir);
    assertEquals(new KernelMemory.Cgroup(dir, 50884608L, 3345506304L, OptionalLong.of(268435456L), 1), group);
  }

  @Test
  void thisProcessReadsItsOwnResidentMemory() {
    Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "not Linux: no /proc/self/status");
    KernelMemory.Snapshot self = KernelMemory.readSelf();
    assertTrue(self.vmRssBytes() > 10L << 20, "a JVM's resident memory is over 10 MiB: " + self);
    assertTrue(self.rssAnonBytes() > 0 && self.rssAnonBytes() <= self.vmRssBytes(), self.toString());
    self.cgroup().ifPresent(g -> assertTrue(g.usageBytes() >= g.anonymousBytes() && g.anonymousBytes() > 0,
        g.toString()));
  }
}
