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
 * @param kernelReserveBytes what its budget left for the kernel's share of the group
 *     ({@code dsparse.device.kernel-reserve}), which the anonymous peak does not hold
 */
public record LabMeasure(String device, String profile, long memoryLimitBytes, double cpuCores,
    long peakAnonymousBytes, boolean oomKilled, long kernelReserveBytes) {

  /**
   * The whole process the memory model predicts for a device that trained with {@code budgetBytes} and a
   * predicted training peak of {@code predictedTrainingBytes}: what its JVM held when it chose its budget
   * (its limit less the budget and the kernel's reserve, the runtime reserve included) plus that peak.
   */
  public long predictedProcessBytes(long budgetBytes, long predictedTrainingBytes) {
    return memoryLimitBytes - budgetBytes - kernelReserveBytes + predictedTrainingBytes;
  }

  /** What {@code cgroup} shows now, for a device whose budget left {@code kernelReserveBytes} to the kernel. */
  public static LabMeasure of(DeviceCgroup cgroup, long kernelReserveBytes) {
    return new LabMeasure(cgroup.device(), cgroup.profile().name(), cgroup.profile().memoryLimitBytes(),
        cgroup.profile().cpuCores(), cgroup.peakAnonymousBytes(), cgroup.oomKills() > 0, kernelReserveBytes);
  }

  /** {@code dsparse.device.kernel-reserve} of the configuration the devices read. */
  public static long kernelReserve(com.typesafe.config.Config config) {
    return config.getBytes("dsparse.device.kernel-reserve");
  }
}
