package org.dsparse.core.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code --name value} and {@code --name=value} flags, and bare {@code --switch}es, checked against
 * the flags a command knows. Positional arguments are kept in order.
 */
public final class Flags {
  private final String command;
  private final Map<String, String> values = new LinkedHashMap<>();
  private final List<String> positional = new ArrayList<>();

  private Flags(String command) {
    this.command = command;
  }

  /**
   * Parses {@code args}; {@code valued} are flags that take a value, {@code switches} those that do not.
   *
   * @throws UsageException for an unknown flag or a missing value
   */
  public static Flags parse(String command, String[] args, Set<String> valued, Set<String> switches) {
    Flags flags = new Flags(command);
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) {
        flags.positional.add(arg);
        continue;
      }
      String name = arg.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (switches.contains(name)) {
        if (value != null) {
          throw new UsageException(command + ": --" + name + " takes no value");
        }
        flags.values.put(name, "true");
      } else if (valued.contains(name)) {
        if (value == null) {
          if (i + 1 >= args.length) {
            throw new UsageException(command + ": --" + name + " needs a value");
          }
          value = args[++i];
        }
        flags.values.put(name, value);
      } else {
        Set<String> known = new TreeSet<>(valued);
        known.addAll(switches);
        throw new UsageException(command + ": unknown flag --" + name + "; known flags: --"
            + String.join(", --", known));
      }
    }
    return flags;
  }

  public List<String> positional() {
    return positional;
  }

  public boolean has(String name) {
    return values.containsKey(name);
  }

  public Optional<String> get(String name) {
    return Optional.ofNullable(values.get(name));
  }

  public String get(String name, String fallback) {
    return values.getOrDefault(name, fallback);
  }

  public int getInt(String name, int fallback) {
    String value = values.get(name);
    if (value == null) {
      return fallback;
    }
    try {
      return Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a whole number, got '" + value + "'");
    }
  }

  public double getDouble(String name, double fallback) {
    String value = values.get(name);
    if (value == null) {
      return fallback;
    }
    try {
      return Double.parseDouble(value.trim());
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a number, got '" + value + "'");
    }
  }

  /** A comma-separated list of whole numbers. */
  public List<Integer> getInts(String name, List<Integer> fallback) {
    String value = values.get(name);
    if (value == null) {
      return fallback;
    }
    List<Integer> result = new ArrayList<>();
    for (String part : value.split(",")) {
      try {
        result.add(Integer.parseInt(part.trim()));
      } catch (NumberFormatException e) {
        throw new UsageException(command + ": --" + name + " expects whole numbers separated by commas, got '"
            + value + "'");
      }
    }
    return result;
  }

  /**
   * A byte size: a number with an optional unit B, KiB, MiB, GiB (or k, m, g, KB, MB, GB, taken as
   * binary multiples), e.g. {@code 512MiB}.
   */
  public Optional<Long> getBytes(String name) {
    String value = values.get(name);
    return value == null ? Optional.empty() : Optional.of(parseBytes(command + ": --" + name, value));
  }

  /** Parses a byte size as {@link #getBytes} does; {@code where} names the source in the error. */
  public static long parseBytes(String where, String value) {
    String text = value.trim().toLowerCase(java.util.Locale.ROOT).replace(" ", "");
    long multiplier = 1;
    String[][] units = {{"gib", "gb", "g"}, {"mib", "mb", "m"}, {"kib", "kb", "k"}, {"b"}};
    long[] factors = {1L << 30, 1L << 20, 1L << 10, 1};
    outer:
    for (int u = 0; u < units.length; u++) {
      for (String unit : units[u]) {
        if (text.endsWith(unit)) {
          multiplier = factors[u];
          text = text.substring(0, text.length() - unit.length());
          break outer;
        }
      }
    }
    try {
      double number = Double.parseDouble(text);
      if (!(number > 0)) {
        throw new UsageException(where + ": size must be positive, got '" + value + "'");
      }
      return Math.round(number * multiplier);
    } catch (NumberFormatException e) {
      throw new UsageException(where + ": '" + value + "' is not a size (e.g. 512MiB, 2GiB)");
    }
  }
}
