package org.dsparse.actors.device;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.KernelMemory;
import org.dsparse.core.lab.MemoryRoom;

/**
 * A device's identity and memory budget, from {@code dsparse.device}.
 *
 * @param name unique name in the cluster
 * @param budgetBytes memory this device may spend on training
 * @param measureMemory whether steps report the process's resident growth as this device's training
 *     memory (true only when the device has its JVM to itself)
 * @param dataDir where this device keeps the job's dataset files, overriding the job's folder
 *     (empty: as the job says)
 */
public record DeviceSettings(String name, long budgetBytes, boolean measureMemory, String dataDir) {
  private static final Path MEMINFO = Path.of("/proc/meminfo");

  public DeviceSettings {
    if (name == null || !name.matches("[A-Za-z0-9_.-]+")) {
      throw new UsageException("device name '" + name + "' may use only letters, digits, '_', '.', '-'");
    }
    if (budgetBytes <= 0) {
      throw new UsageException("device " + name + ": memory budget must be positive, got " + budgetBytes);
    }
  }

  /** A device on this machine's real speed and network. */
  public static DeviceSettings of(String name, long budgetBytes, boolean measureMemory) {
    return new DeviceSettings(name, budgetBytes, measureMemory, "");
  }

  /** The job's data source as this device reads it: from its own data folder when it has one. */
  public org.dsparse.training.data.DataSource dataSource(String jobData, String where) {
    org.dsparse.training.data.DataSource source = org.dsparse.training.data.DataSource.parse(jobData, where);
    if (dataDir.isEmpty() || source instanceof org.dsparse.training.data.DataSource.Embedded) {
      return source;
    }
    return new org.dsparse.training.data.DataSource.Folder(source.kind(), java.nio.file.Path.of(dataDir));
  }

  /**
   * Reads {@code dsparse.device}: {@code memory-budget} is a size or {@code auto}, which takes the
   * machine's available memory less {@code memory-reserve}. Errors name the key.
   */
  public static DeviceSettings fromConfig(Config config) {
    Config c = config.getConfig("dsparse.device");
    try {
      String name = c.getString("name");
      String budget = c.getString("memory-budget").trim();
      long budgetBytes;
      if (budget.equalsIgnoreCase("auto")) {
        MemoryRoom room = room(c);
        if (room.budgetBytes() <= 0) {
          throw new UsageException("dsparse.device.memory-budget = auto leaves device " + name
              + " no memory for training: " + room.explanation());
        }
        // One line a user reads to see what the device brings, and why.
        System.out.println("device " + name + ": memory budget " + room.explanation());
        budgetBytes = room.budgetBytes();
      } else {
        budgetBytes = Flags.parseBytes("dsparse.device.memory-budget", budget);
      }
      return new DeviceSettings(name, budgetBytes, c.getBoolean("measure-memory"), c.getString("data-dir"));
    } catch (ConfigException e) {
      throw new UsageException("device configuration: " + e.getMessage());
    }
  }

  /**
   * What is left for training: the machine's available memory less the reserve, or the process's
   * cgroup limit less what it holds, whichever is smaller, less the runtime reserve. PyTorch is loaded
   * first, so that what its libraries keep is counted as held.
   */
  private static MemoryRoom room(Config c) {
    ai.djl.engine.Engine.getInstance();
    long reserve = c.getBytes("memory-reserve");
    long runtimeReserve = c.getBytes("runtime-reserve");
    long kernelReserve = c.getBytes("kernel-reserve");
    if (reserve < 0 || runtimeReserve < 0 || kernelReserve < 0) {
      throw new UsageException("dsparse.device.memory-reserve, runtime-reserve and kernel-reserve must not be negative");
    }
    java.util.OptionalLong limit = java.util.OptionalLong.empty();
    long charged = 0;
    try {
      KernelMemory.Snapshot self = KernelMemory.readSelf();
      // The group's anonymous memory when larger: node-app's sized JVM shares its group with the JVM
      // that started it (tools/lab), and the limit holds for both.
      charged = Math.max(self.rssAnonBytes(), self.cgroup().map(KernelMemory.Cgroup::anonymousBytes).orElse(0L));
      limit = self.cgroup().map(KernelMemory.Cgroup::limitBytes).orElse(java.util.OptionalLong.empty());
    } catch (java.io.UncheckedIOException e) {
      // Not Linux: the machine's bound alone.
    }
    return MemoryRoom.of(availableBytes(), reserve, limit, charged, runtimeReserve, kernelReserve);
  }

  /** MemAvailable from /proc/meminfo: what the machine can give without swapping. */
  static long availableBytes() {
    try {
      for (String line : Files.readAllLines(MEMINFO)) {
        if (line.startsWith("MemAvailable:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      throw new UsageException("dsparse.device.memory-budget = auto cannot read " + MEMINFO + " ("
          + e.getMessage() + "); set the budget explicitly, e.g. 512MiB");
    }
    throw new UsageException("dsparse.device.memory-budget = auto: " + MEMINFO
        + " has no MemAvailable; set the budget explicitly");
  }
}
