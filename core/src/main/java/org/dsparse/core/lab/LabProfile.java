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

  /**
   * The CFS period the lab writes, in microseconds: the kernel's default of 100 ms, or longer where the
   * profile's share of it would fall below the kernel's 1 ms minimum quota.
   *
   * <p>A board's slow CPU is slow all the time, while a group over its quota stops until the next
   * period, so a shorter period looks closer to a board. It was tried and is not used: at 10 ms the
   * default lab's DSparse step took 12.02 and 11.02 s in two runs against 7.94 to 8.80 s at 100 ms
   * (medians of 30 steps, bench/lab, 2026-12-06 and 07), and moved as much from step to step (9 to 19 s
   * against 7.5 to 14). The slowest devices use their
   * quota to the full either way; 100 slices a second rather than 10 cost them in switches and caches.
   */
  public long cfsPeriodMicros() {
    return Math.max(DEFAULT_CFS_PERIOD_MICROS, Math.min(1_000_000, (long) Math.ceil(MIN_CFS_QUOTA_MICROS / cpuCores)));
  }

  /** The CFS quota in microseconds for {@link #cfsPeriodMicros()}: the profile's share of a core of it. */
  public long cfsQuotaMicros() {
    return Math.max(MIN_CFS_QUOTA_MICROS, Math.round(cpuCores * cfsPeriodMicros()));
  }

  /** The lab's CFS period where the quota allows it. */
  public static final long DEFAULT_CFS_PERIOD_MICROS = 100_000;
  /** The smallest {@code cpu.cfs_quota_us} the kernel accepts. */
  public static final long MIN_CFS_QUOTA_MICROS = 1_000;
}
