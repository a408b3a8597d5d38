package org.dsparse.core.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What the kernel charges a process for memory, read from {@code /proc/self/status} and, when the
 * process has a cgroup v1 memory group of its own, from that group's files.
 *
 * <p>Anonymous memory (heap, native buffers, PyTorch's tensors) is what a memory group cannot
 * reclaim: when it reaches the group's limit the OOM killer acts. Page cache is reclaimable and is
 * mostly the JVM's jars; it counts in {@code memory.usage_in_bytes} and {@code VmRSS} (as mapped
 * files), so neither alone says how near a device is to being killed. The JVM's own figures (heap
 * used, committed) miss the native memory PyTorch allocates, which is most of a device's training
 * memory.
 *
 * <p>The parsers take the files' text and never throw on a field they do not find (they return 0 or
 * empty): kernels differ in what they write.
 */
public final class KernelMemory {
  /** Where cgroup v1 mounts its memory controller. */
  public static final Path CGROUP_V1_MEMORY = Path.of("/sys/fs/cgroup/memory");
  /** {@code memory.limit_in_bytes} of a group with no limit is near 2^63; anything from 2^62 up is none. */
  private static final long NO_LIMIT = 1L << 62;

  private KernelMemory() {}

  /** A process's resident memory: all of it ({@code VmRSS}) and its anonymous part ({@code RssAnon}). */
  public record Snapshot(long vmRssBytes, long rssAnonBytes, Optional<Cgroup> cgroup) {}

  /**
   * A memory group's figures: its anonymous memory ({@code total_rss}), what it is charged in all
   * ({@code memory.usage_in_bytes}, page cache included), its limit (empty for none) and how often
   * the OOM killer acted in it.
   */
  public record Cgroup(Path dir, long anonymousBytes, long usageBytes, OptionalLong limitBytes, long oomKills) {}

  /**
   * The path of this process's cgroup v1 memory group, from {@code /proc/self/cgroup}'s {@code memory}
   * line ({@code 4:memory:/lab/pi4}); empty when there is none, or it is the root {@code /} (the
   * process shares the machine's memory, and the root group's figures are the whole machine's).
   */
  public static Optional<String> memoryCgroupPath(String procSelfCgroupText) {
    for (String line : procSelfCgroupText.split("\n")) {
      String[] parts = line.split(":", 3);
      if (parts.length == 3 && java.util.Arrays.asList(parts[1].split(",")).contains("memory")) {
        String path = parts[2].trim();
        return path.isEmpty() || path.equals("/") ? Optional.empty() : Optional.of(path);
      }
    }
    return Optional.empty();
  }

  /**
   * A group's anonymous memory from its {@code memory.stat}: {@code total_rss} (the group and its
   * subgroups) if present, else {@code rss}; 0 when neither is.
   */
  public static long anonymousBytes(String memoryStatText) {
    long total = field(memoryStatText, "total_rss", ' ');
    return total >= 0 ? total : Math.max(0, field(memoryStatText, "rss", ' '));
  }

  /** The OOM killer's kills in a group, from its {@code memory.oom_control} ({@code oom_kill}; 0 on older kernels). */
  public static long oomKills(String oomControlText) {
    return Math.max(0, field(oomControlText, "oom_kill", ' '));
  }

  /** A process's resident memory in bytes from {@code /proc/PID/status} ({@code VmRSS}, in kB there); 0 if absent. */
  public static long vmRssBytes(String procStatusText) {
    return Math.max(0, field(procStatusText, "VmRSS", ':')) * 1024;
  }

  /** The anonymous part of a process's resident memory ({@code RssAnon}, Linux 4.5 and later); 0 if absent. */
  public static long rssAnonBytes(String procStatusText) {
    return Math.max(0, field(procStatusText, "RssAnon", ':')) * 1024;
  }

  /** A group's {@code memory.limit_in_bytes}; empty when the group has none. */
  public static OptionalLong limitBytes(String limitText) {
    String text = limitText.trim();
    if (text.isEmpty()) {
      return OptionalLong.empty();
    }
    // Unlimited reads as 9223372036854771712 on v1 (and "max" on v2).
    try {
      long limit = Long.parseLong(text);
      return limit >= NO_LIMIT ? OptionalLong.empty() : OptionalLong.of(limit);
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /**
   * This process's figures, with its memory group's when it has one of its own whose files this
   * process can read (a container may show a path its mount does not have).
   *
   * @throws UncheckedIOException when {@code /proc/self/status} cannot be read (not Linux)
   */
  public static Snapshot readSelf() {
    String status = read(Path.of("/proc/self/status"));
    Optional<Cgroup> cgroup = Optional.empty();
    Path cgroupFile = Path.of("/proc/self/cgroup");
    if (Files.isReadable(cgroupFile)) {
      cgroup = memoryCgroupPath(read(cgroupFile))
          .map(p -> CGROUP_V1_MEMORY.resolve(p.substring(1)))
          .filter(dir -> Files.isReadable(dir.resolve("memory.stat")))
          .map(KernelMemory::readCgroup);
    }
    return new Snapshot(vmRssBytes(status), rssAnonBytes(status), cgroup);
  }

  /**
   * The figures of the cgroup v1 memory group at {@code dir} (e.g.
   * {@code /sys/fs/cgroup/memory/lab/pi4}).
   *
   * @throws UncheckedIOException when its {@code memory.stat} cannot be read
   */
  public static Cgroup readCgroup(Path dir) {
    long anonymous = anonymousBytes(read(dir.resolve("memory.stat")));
    long usage = Math.max(0, parseLong(readIfPresent(dir.resolve("memory.usage_in_bytes"))));
    OptionalLong limit = limitBytes(readIfPresent(dir.resolve("memory.limit_in_bytes")));
    long kills = oomKills(readIfPresent(dir.resolve("memory.oom_control")));
    return new Cgroup(dir, anonymous, usage, limit, kills);
  }

  /** The number after {@code name} and {@code separator} at the start of a line; -1 if no line has it. */
  private static long field(String text, String name, char separator) {
    String prefix = name + separator;
    for (String line : text.split("\n")) {
      if (line.startsWith(prefix)) {
        String value = line.substring(prefix.length()).trim();
        int space = value.indexOf(' ');
        return parseLong(space < 0 ? value : value.substring(0, space));
      }
    }
    return -1;
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static String readIfPresent(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return "";
    }
  }
}
