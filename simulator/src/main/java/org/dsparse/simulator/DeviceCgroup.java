package org.dsparse.simulator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.KernelMemory;
import org.dsparse.core.lab.LabProfile;

/**
 * One lab device's limits, enforced by the kernel: a cgroup v1 {@code memory} group whose
 * {@code memory.limit_in_bytes} is the profile's RAM (the OOM killer acts at it) and a {@code cpu} group
 * whose CFS quota is the profile's share of a core. The device's whole process runs in both, from its
 * first instruction: {@link #wrap} starts it through a shell that joins the groups and then execs it.
 *
 * <p>What is measured, and why: the peak of the group's anonymous memory ({@code total_rss} in
 * {@code memory.stat}: heap, metaspace, thread stacks, malloc and PyTorch's tensors), sampled every
 * {@value #SAMPLE_MILLIS} ms. Page cache is left out because the kernel reclaims it before it kills
 * anything: it is the JVM's jars and the dataset files read through the cache, and it would make the
 * figure depend on what else was read. cgroup v1 keeps a peak only of usage with the cache
 * ({@code memory.max_usage_in_bytes}), so the anonymous peak is sampled; a spike shorter than the
 * period can be missed. The OOM killer's kills are counted by {@code memory.oom_control}'s
 * {@code oom_kill}.
 */
public final class DeviceCgroup implements AutoCloseable {
  static final Path MEMORY_ROOT = Path.of("/sys/fs/cgroup/memory");
  static final Path CPU_ROOT = Path.of("/sys/fs/cgroup/cpu");
  static final long SAMPLE_MILLIS = 20;
  private static final long PAGE = 4096;

  private static final ScheduledExecutorService SAMPLER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "cgroup-sampler");
    t.setDaemon(true);
    return t;
  });

  /** Groups not closed yet: a simulator stopped by a signal still kills their processes and removes them. */
  private static final java.util.Set<DeviceCgroup> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      java.util.Set<Path> labs = new java.util.HashSet<>();
      for (DeviceCgroup group : List.copyOf(OPEN)) {
        labs.add(group.memory.getParent().getFileName());
        group.close();
      }
      labs.forEach(lab -> removeLab(lab.toString()));
    }, "remove-lab-cgroups"));
  }

  private final String device;
  private final LabProfile profile;
  private final Path memory;
  private final Path cpu;
  private final AtomicLong peakAnonymous = new AtomicLong();
  private final ScheduledFuture<?> sampling;
  private volatile long lastOomKills;

  private DeviceCgroup(String device, LabProfile profile, Path memory, Path cpu) {
    this.device = device;
    this.profile = profile;
    this.memory = memory;
    this.cpu = cpu;
    this.sampling = SAMPLER.scheduleAtFixedRate(this::sample, 0, SAMPLE_MILLIS, TimeUnit.MILLISECONDS);
    OPEN.add(this);
  }

  /** Why the lab cannot run here, or empty when it can (root, cgroup v1 memory and cpu controllers). */
  public static Optional<String> unavailable() {
    if (!Files.isRegularFile(MEMORY_ROOT.resolve("memory.limit_in_bytes"))) {
      return Optional.of("no cgroup v1 memory controller at " + MEMORY_ROOT);
    }
    if (!Files.isRegularFile(CPU_ROOT.resolve("cpu.cfs_quota_us"))) {
      return Optional.of("no cgroup v1 cpu controller at " + CPU_ROOT);
    }
    if (!Files.isWritable(MEMORY_ROOT) || !Files.isWritable(CPU_ROOT)) {
      return Optional.of("cgroups at " + MEMORY_ROOT + " and " + CPU_ROOT + " are not writable (run as root)");
    }
    return Optional.empty();
  }

  /**
   * Makes {@code <lab>/<device>} in both controllers with the profile's limits and checks that the
   * kernel took them. Errors are one line naming the device and the file.
   */
  public static DeviceCgroup create(String lab, String device, LabProfile profile) {
    unavailable().ifPresent(reason -> {
      throw new UsageException("lab device " + device + ": " + reason);
    });
    Path memory = MEMORY_ROOT.resolve(lab).resolve(device);
    Path cpu = CPU_ROOT.resolve(lab).resolve(device);
    try {
      Files.createDirectories(memory);
      Files.createDirectories(cpu);
    } catch (IOException e) {
      throw new UsageException("lab device " + device + ": cannot create its cgroups: " + e.getMessage());
    }
    write(device, memory.resolve("memory.limit_in_bytes"), Long.toString(profile.memoryLimitBytes()));
    if (Files.exists(memory.resolve("memory.memsw.limit_in_bytes"))) {
      // Memory and swap together at the same limit: no swap to hide in, as on a board without it.
      write(device, memory.resolve("memory.memsw.limit_in_bytes"), Long.toString(profile.memoryLimitBytes()));
    }
    write(device, cpu.resolve("cpu.cfs_period_us"), Long.toString(profile.cfsPeriodMicros()));
    write(device, cpu.resolve("cpu.cfs_quota_us"), Long.toString(profile.cfsQuotaMicros()));
    DeviceCgroup group = new DeviceCgroup(device, profile, memory, cpu);
    group.checkLimits();
    return group;
  }

  /** Reads the limits back: the kernel rounds the memory limit down to a page, and nothing else. */
  void checkLimits() {
    long limit = readLong(memory.resolve("memory.limit_in_bytes"));
    if (limit != profile.memoryLimitBytes() / PAGE * PAGE) {
      throw new UsageException("lab device " + device + ": " + memory.resolve("memory.limit_in_bytes")
          + " reads " + limit + ", not the profile's " + profile.memoryLimitBytes());
    }
    long period = readLong(cpu.resolve("cpu.cfs_period_us"));
    long quota = readLong(cpu.resolve("cpu.cfs_quota_us"));
    if (period != profile.cfsPeriodMicros() || quota != profile.cfsQuotaMicros()) {
      throw new UsageException("lab device " + device + ": " + cpu.resolve("cpu.cfs_quota_us") + " reads " + quota
          + " of " + period + ", not " + profile.cfsQuotaMicros() + " of " + profile.cfsPeriodMicros());
    }
  }

  /**
   * Checks that process {@code pid} runs in both groups (its {@code /proc/<pid>/cgroup} names them):
   * a process the groups do not hold would train unlimited while the report claimed a board.
   */
  public void checkMember(long pid) {
    String text;
    try {
      text = Files.readString(Path.of("/proc", Long.toString(pid), "cgroup"));
    } catch (IOException e) {
      throw new UsageException("lab device " + device + ": process " + pid + " is gone before its cgroups"
          + " could be checked");
    }
    String memoryPath = "/" + MEMORY_ROOT.relativize(memory);
    String cpuPath = "/" + CPU_ROOT.relativize(cpu);
    boolean inMemory = false;
    boolean inCpu = false;
    for (String line : text.split("\n")) {
      String[] parts = line.split(":", 3);
      if (parts.length < 3) {
        continue;
      }
      for (String controller : parts[1].split(",")) {
        inMemory |= controller.equals("memory") && parts[2].equals(memoryPath);
        inCpu |= controller.equals("cpu") && parts[2].equals(cpuPath);
      }
    }
    if (!inMemory || !inCpu) {
      throw new UsageException("lab device " + device + ": process " + pid + " is not in its cgroups "
          + memoryPath + " (memory) and " + cpuPath + " (cpu): " + text.strip().replace('\n', ' '));
    }
  }

  /** {@code command} started inside both groups: a shell joins them, then execs the command. */
  public List<String> wrap(List<String> command) {
    List<String> wrapped = new ArrayList<>(List.of("/bin/sh", "-c",
        "echo $$ > \"$0/cgroup.procs\" && echo $$ > \"$1/cgroup.procs\" && shift 2 && exec \"$@\"",
        memory.toString(), cpu.toString(), "--"));
    wrapped.addAll(command);
    return wrapped;
  }

  public String device() {
    return device;
  }

  public LabProfile profile() {
    return profile;
  }

  /** The largest anonymous memory sampled so far, in bytes. */
  public long peakAnonymousBytes() {
    sample();
    return peakAnonymous.get();
  }

  /** Forgets the peak so far (between jobs on the same process). */
  public void resetPeak() {
    peakAnonymous.set(0);
  }

  /** How many processes of this group the kernel's OOM killer has killed. */
  public long oomKills() {
    try {
      lastOomKills = KernelMemory.oomKills(Files.readString(memory.resolve("memory.oom_control")));
    } catch (IOException e) {
      // The group is gone (closed): the last count read stands.
    }
    return lastOomKills;
  }

  private void sample() {
    try {
      long anonymous = KernelMemory.anonymousBytes(Files.readString(memory.resolve("memory.stat")));
      peakAnonymous.accumulateAndGet(anonymous, Math::max);
    } catch (IOException | RuntimeException e) {
      // Between removal and cancellation; nothing to sample.
    }
  }

  /** Kills what is left in the group, then removes both groups. */
  @Override
  public void close() {
    if (!OPEN.remove(this)) {
      return;
    }
    oomKills();
    sample();
    sampling.cancel(false);
    for (int attempt = 0; attempt < 50; attempt++) {
      List<Long> pids = tasks();
      if (pids.isEmpty()) {
        break;
      }
      pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    remove(memory);
    remove(cpu);
  }

  /** Removes a lab's parent groups once every device's group is gone. */
  public static void removeLab(String lab) {
    remove(MEMORY_ROOT.resolve(lab));
    remove(CPU_ROOT.resolve(lab));
  }

  private List<Long> tasks() {
    try {
      return Files.readAllLines(memory.resolve("cgroup.procs")).stream().filter(s -> !s.isBlank())
          .map(s -> Long.parseLong(s.trim())).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private static void remove(Path group) {
    try {
      Files.deleteIfExists(group);
    } catch (IOException e) {
      System.err.println("lab: cannot remove cgroup " + group + " (" + e.getMessage() + "); rmdir it by hand");
    }
  }

  private static void write(String device, Path file, String value) {
    try {
      Files.writeString(file, value, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new UsageException("lab device " + device + ": cannot write " + value + " to " + file + ": "
          + e.getMessage());
    }
  }

  private static long readLong(Path file) {
    try {
      return Long.parseLong(Files.readString(file).trim());
    } catch (IOException | NumberFormatException e) {
      throw new UsageException("lab: cannot read " + file + ": " + e.getMessage());
    }
  }
}
