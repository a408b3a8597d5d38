package org.dsparse.simulator;

/**
 * What the kernel charged a lab device's process while its cluster lived.
 *
 * @param device the device's name
 * @param profile its lab profile's name
 * @param memoryLimitBytes its cgroup's memory limit
 * @param cpuCores its CPU quota, in cores
 * @param peakAnonymousBytes the peak of its cgroup's anonymous memory (sampled; see {@link DeviceCgroup})
 * @param oomKilled whether the kernel's OOM killer killed a process of its cgroup
 */
public record LabMeasure(String device, String profile, long memoryLimitBytes, double cpuCores,
    long peakAnonymousBytes, boolean oomKilled) {

  /**
   * The whole process the memory model predicts for a device that trained with {@code budgetBytes} and a
   * predicted training peak of {@code predictedTrainingBytes}: what its JVM held when it chose its budget
   * (its limit less the budget, the runtime reserve included) plus that peak.
   */
  public long predictedProcessBytes(long budgetBytes, long predictedTrainingBytes) {
    return memoryLimitBytes - budgetBytes + predictedTrainingBytes;
  }
}
