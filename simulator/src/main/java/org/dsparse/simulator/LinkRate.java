package org.dsparse.simulator;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.core.cli.UsageException;

/** A link's rate as tc writes it ({@code 50mbit}, {@code 1gbit}, {@code 800kbit}), or loopback (unshaped). */
public final class LinkRate {
  private static final Pattern RATE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*(bit|kbit|mbit|gbit)");

  private LinkRate() {}

  /** Bits per second; 0 for {@code loopback}. Errors name {@code where}. */
  public static long parse(String where, String text) {
    String value = text.trim().toLowerCase(Locale.ROOT);
    if (value.equals("loopback") || value.isEmpty()) {
      return 0;
    }
    Matcher m = RATE.matcher(value);
    if (!m.matches()) {
      throw new UsageException(where + " = '" + text + "': a rate such as 50mbit, 800kbit or 1gbit, or loopback");
    }
    double scale = switch (m.group(2)) {
      case "kbit" -> 1e3;
      case "mbit" -> 1e6;
      case "gbit" -> 1e9;
      default -> 1;
    };
    long bits = Math.round(Double.parseDouble(m.group(1)) * scale);
    if (bits < 8_000) {
      throw new UsageException(where + " = '" + text + "': below 8kbit no training step finishes in time");
    }
    return bits;
  }
}
