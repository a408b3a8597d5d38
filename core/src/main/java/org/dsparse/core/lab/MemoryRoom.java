package org.dsparse.core.lab;

import java.util.Locale;
import java.util.OptionalLong;

/**
 * What a device has left for training once its node runs: the budget of {@code memory-budget = auto}.
 *
 * <p>Two bounds, whichever is smaller. The machine's: {@code MemAvailable} less a reserve for the OS and
 * other programs (the node's own memory is already in use, so not in MemAvailable). The process's, when
 * a cgroup limits it (a lab device, a container): the limit less what the process is charged already
 * (anonymous memory: the pre-touched heap, metaspace, the libraries' data, PyTorch loaded). From that the
 * runtime reserve goes: what the node allocates later besides training (PyTorch's first-use buffers, the
 * data links' threads and buffers), which the memory model's training peak does not hold.
 *
 * @param budgetBytes what the planner may give training; not positive when nothing is left
 * @param explanation one line saying where the figure came from
 */
public record MemoryRoom(long budgetBytes, String explanation) {
  /** Budgets are whole multiples of this (see {@link #of}). */
  public static final long QUANTUM = 4L << 20;

  /**
   * @param memAvailableBytes {@code MemAvailable} of {@code /proc/meminfo}
   * @param reserveBytes kept for the OS and other programs
   * @param cgroupLimitBytes the process's memory cgroup limit, if it has one below the machine's RAM
   * @param chargedBytes the process's anonymous memory now (what the cgroup cannot reclaim)
   * @param runtimeReserveBytes kept for what the node allocates later besides training
   * @param kernelReserveBytes kept, under a cgroup limit, for what the limit counts besides the process's
   *     anonymous memory: kernel memory charged to the group (page tables, socket buffers, slab) and the
   *     hot pages of the JVM's and PyTorch's code, which the kernel can drop only by thrashing
   */
  public static MemoryRoom of(long memAvailableBytes, long reserveBytes, OptionalLong cgroupLimitBytes,
      long chargedBytes, long runtimeReserveBytes, long kernelReserveBytes) {
    long machine = memAvailableBytes - reserveBytes;
    String why = String.format(Locale.ROOT, "MemAvailable %d MiB less the reserve of %d MiB", memAvailableBytes >> 20,
        reserveBytes >> 20);
    long room = machine;
    if (cgroupLimitBytes.isPresent() && cgroupLimitBytes.getAsLong() - chargedBytes - kernelReserveBytes < machine) {
      room = cgroupLimitBytes.getAsLong() - chargedBytes - kernelReserveBytes;
      why = String.format(Locale.ROOT, "cgroup limit %d MiB less the %d MiB this process holds and the kernel's"
          + " reserve of %d MiB", cgroupLimitBytes.getAsLong() >> 20, chargedBytes >> 20, kernelReserveBytes >> 20);
    }
    // Whole steps of QUANTUM, rounded down: what a JVM holds at start varies by 1-2 MiB from one start to
    // the next, and a budget that moved with it flipped the planner's choices between two runs of the
    // same job on the same boards (bench/lab: the body went to another device, and the step times with it).
    long budget = Math.floorDiv(room - runtimeReserveBytes, QUANTUM) * QUANTUM;
    return new MemoryRoom(budget, String.format(Locale.ROOT, "%d MiB: %s, less the runtime reserve of %d MiB,"
        + " in whole %d MiB", budget >> 20, why, runtimeReserveBytes >> 20, QUANTUM >> 20));
  }
}
