package org.dsparse.simulator;

/**
 * One simulated device.
 *
 * @param name unique name
 * @param budget a size ({@code 64MiB}) or a percentage of the full update's predicted peak ({@code 40%})
 * @param computeSlowdown compute takes this many times as long (1 = this machine's speed)
 * @param linkBitsPerSecond the device's link: its traffic is shaped to this rate (0: loopback as it is)
 */
public record DeviceProfile(String name, String budget, double computeSlowdown, long linkBitsPerSecond) {

  /**
   * The budget in bytes, resolving a percentage against {@code fullUpdateBytes}; {@code where} names the
   * key and device in errors ({@code dsparse.simulation.devices[0].budget (a)}).
   */
  public long budgetBytes(long fullUpdateBytes, String where) {
    String text = budget.trim();
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
