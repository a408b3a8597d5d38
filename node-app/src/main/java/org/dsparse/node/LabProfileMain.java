package org.dsparse.node;

import java.util.Locale;
import org.dsparse.core.cli.Table;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.lab.LabProfiles;

/**
 * The lab's device profiles for {@code tools/lab}, which keeps no figures of its own:
 * {@code LabProfileMain NAME} prints one profile as {@code key=value} words a shell reads,
 * {@code LabProfileMain --list} the catalogue as a table.
 */
public final class LabProfileMain {
  private LabProfileMain() {}

  public static void main(String[] args) {
    try {
      System.out.print(run(args));
    } catch (UsageException e) {
      System.err.println("lab: " + e.getMessage());
      System.exit(2);
    }
  }

  static String run(String[] args) {
    if (args.length == 1 && args[0].equals("--list")) {
      Table table = new Table("profile", "board", "memory MiB", "cores", "link");
      for (LabProfile p : LabProfiles.all()) {
        table.row(p.name(), p.board(), p.memoryLimitBytes() >> 20, String.format(Locale.ROOT, "%.3f", p.cpuCores()),
            p.linkBitsPerSecond() == 0 ? "loopback" : (p.linkBitsPerSecond() / 1_000_000) + " Mbit/s");
      }
      return table.toString();
    }
    if (args.length != 1 || args[0].startsWith("-")) {
      throw new UsageException("usage: LabProfileMain NAME | --list");
    }
    LabProfile p = LabProfiles.named(args[0], "--profile");
    return String.format(Locale.ROOT, "memory=%d cpu_period_us=%d cpu_quota_us=%d link=%d%n", p.memoryLimitBytes(),
        p.cfsPeriodMicros(), p.cfsQuotaMicros(), p.linkBitsPerSecond());
  }
}
