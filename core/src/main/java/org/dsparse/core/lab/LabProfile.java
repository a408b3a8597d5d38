package org.dsparse.core.lab;

import java.util.Locale;

/**
 * A device of the lab: the board it stands for, and what the kernel grants its process.
 *
 * @param name the profile's name, e.g. {@code pi4-2g}
 * @param board the board it stands for, in words
 * @param memoryLimitBytes the whole process's memory limit ({@code memory.limit_in_bytes}): Java heap,
 *     metaspace, threads and native memory together
 * @param cpuCores the share of one core the process may use ({@code cpu.cfs_quota_us} over the period)
 * @param linkBitsPerSecond its link's rate, shaped by tc; 0 for loopback
 * @param relativeSpeed the board's single-core speed relative to a Raspberry Pi 3B's
 */
public record LabProfile(String name, String board, long memoryLimitBytes, double cpuCores,
    long linkBitsPerSecond, double relativeSpeed) {

  public LabProfile {
    if (memoryLimitBytes <= 0 || !(cpuCores > 0) || cpuCores > 64 || linkBitsPerSecond < 0 || !(relativeSpeed > 0)) {
      throw new IllegalArgumentException("profile " + name + ": limits must be positive");
    }
  }

  /** {@code pi4-2g: 704 MiB, 0.25 core, 50 Mbit/s} */
  public String describe() {
    return String.format(Locale.ROOT, "%s: %d MiB, %.3f core, %s", name, memoryLimitBytes >> 20, cpuCores,
        linkBitsPerSecond == 0 ? "loopback" : (linkBitsPerSecond / 1_000_000) + " Mbit/s");
  }

  /** The CFS quota in microseconds for {@code periodMicros}, never below the kernel's 1 ms minimum. */
  public long cfsQuotaMicros(long periodMicros) {
    return Math.max(1000, Math.round(cpuCores * periodMicros));
  }
}
