package org.dsparse.simulator;

import java.util.Optional;
import org.dsparse.core.lab.LabProfile;

/**
 * One simulated device.
 *
 * @param name unique name
 * @param budget a size ({@code 64MiB}), a percentage of the full update's predicted peak ({@code 40%}), or
 *     {@code auto}: what the device's own process finds it has left (a lab device's RAM less what its JVM
 *     keeps)
 * @param computeSlowdown compute takes this many times as long (1 = this machine's speed)
 * @param linkBitsPerSecond the device's link: its traffic is shaped to this rate (0: loopback as it is)
 * @param lab the board the kernel holds the device's process to (its own cgroups), if any
 */
public record DeviceProfile(String name, String budget, double computeSlowdown, long linkBitsPerSecond,
    Optional<LabProfile> lab) {

  public static final String AUTO = "auto";

  /** A device without kernel limits. */
  public DeviceProfile(String name, String budget, double computeSlowdown, long linkBitsPerSecond) {
    this(name, budget, computeSlowdown, linkBitsPerSecond, Optional.empty());
  }

  /** The same device on another link. */
  public DeviceProfile withLink(long bitsPerSecond) {
    return new DeviceProfile(name, budget, computeSlowdown, bitsPerSecond, lab);
  }

  /** Whether the device's own process chooses its budget ({@link #AUTO}). */
  public boolean autoBudget() {
    return budget.trim().equalsIgnoreCase(AUTO);
  }

  /**
   * The budget in bytes, resolving a percentage against {@code fullUpdateBytes}; 0 for {@link #AUTO}.
   * {@code where} names the key and device in errors ({@code dsparse.simulation.devices[0].budget (a)}).
   */
  public long budgetBytes(long fullUpdateBytes, String where) {
    String text = budget.trim();
    if (autoBudget()) {
      return 0;
    }
    if (text.endsWith("%")) {
      double percent;
      try {
        percent = Double.parseDouble(text.substring(0, text.length() - 1).trim());
      } catch (NumberFormatException e) {
        throw new org.dsparse.core.cli.UsageException(where + ": '" + budget + "' is not a percentage (e.g. 40%) or a size (e.g. 64MiB)");
      }
      if (!(percent > 0)) {
        throw new org.dsparse.core.cli.UsageException(where + ": percentage must be positive, got '" + budget + "'");
      }
      return Math.round(fullUpdateBytes * percent / 100);
    }
    return org.dsparse.core.cli.Flags.parseBytes(where, text);
  }
}
