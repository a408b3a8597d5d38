package org.dsparse.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.JvmSizing;
import org.dsparse.core.lab.KernelMemory;
import org.dsparse.training.profile.MeasuredJvm;

/**
 * {@code node-app start} in a JVM sized for the device: a JVM cannot change its heap once started, so a
 * node started without sizing (no {@link JvmSizing#CHOSEN_PROPERTY}) and without a heap of the user's
 * starts itself again, once, with {@link JvmSizing#forRam}'s options for the device's RAM (the smaller
 * of {@code MemTotal} and its memory cgroup's limit), and ends with that JVM's exit code.
 *
 * <p>{@link #decide} is pure: what to do follows from the flag, the environment, this JVM's options and
 * the RAM, so tests check the command it builds without starting anything.
 */
final class SizedJvm {
  /** {@code --jvm as-is} keeps the JVM as started; {@code --jvm sized} (the default) sizes it. */
  static final String FLAG = "jvm";
  /** The same choice for a whole environment (a service file, a container). */
  static final String ENV = "DSPARSE_JVM";
  static final String AS_IS = "as-is";
  static final String SIZED = "sized";
  /** How long a stopped parent waits for its node to leave the cluster before it kills it. */
  static final long CHILD_STOP_SECONDS = 60;

  private SizedJvm() {}

  /** What {@code start} does with its JVM. */
  sealed interface Decision {}

  /** Run in this JVM; {@code line} is what to tell the user (null: nothing, a sized JVM says nothing more). */
  record Keep(String line) implements Decision {}

  /** Start {@code command} with inherited streams, after printing {@code line}, and exit with its code. */
  record Relaunch(List<String> command, String line) implements Decision {}

  /** The device's RAM and where the figure came from ({@code cgroup limit} or {@code MemTotal}). */
  record Ram(long bytes, String source) {}

  /** This JVM as the operating system started it. */
  record ThisJvm(List<String> javaCommand, List<String> inputArguments, String classPath, String mainClass,
      boolean sized, long maxHeapBytes) {}

  /**
   * @param flag {@code --jvm}'s value, or null
   * @param env {@value #ENV}'s value, or null
   * @param ram the device's RAM, or empty with why it could not be read
   * @param args node-app's arguments, passed on unchanged
   */
  static Decision decide(String flag, String env, ThisJvm jvm, Ram ram, String ramProblem, List<String> args) {
    String choice = choice(flag, env);
    if (jvm.sized()) {
      return new Keep(null);
    }
    String kept = String.format(Locale.ROOT, "node-app: JVM kept as started (heap at most %d MiB): ",
        jvm.maxHeapBytes() >> 20);
    if (choice.equals(AS_IS)) {
      return new Keep(kept + (flag != null ? "--jvm as-is" : ENV + "=as-is"));
    }
    Optional<String> heap = userHeapOption(jvm.inputArguments());
    if (heap.isPresent()) {
      return new Keep(kept + "it was started with " + heap.get());
    }
    Optional<String> debugger = jvm.inputArguments().stream()
        .filter(a -> a.startsWith("-agentlib:jdwp") || a.startsWith("-Xrunjdwp")).findFirst();
    if (debugger.isPresent()) {
      return new Keep(kept + "a debugger is attached (" + debugger.get() + ")");
    }
    String executable = Path.of(jvm.javaCommand().get(0)).getFileName().toString();
    if (jvm.javaCommand().size() == 1 && executable.startsWith("qemu-")) {
      // Under user-mode emulation this process is the emulator, which cannot start a JVM by itself.
      return new Keep(kept + "it runs under " + executable + "; -D" + MeasuredJvm.JVM_COMMAND_PROPERTY + "=\""
          + executable + " JAVA\" lets it restart sized");
    }
    if (ram == null) {
      return new Keep(kept + "cannot tell this machine's RAM (" + ramProblem + ")");
    }
    JvmSizing sizing = JvmSizing.forRam(ram.bytes());
    List<String> ours = new ArrayList<>();
    List<String> yoursKept = new ArrayList<>();
    for (String option : sizing.options()) {
      Optional<String> yours = jvm.inputArguments().stream().filter(a -> key(a).equals(key(option))).findFirst();
      if (yours.isPresent()) {
        if (!yours.get().equals(option)) {
          yoursKept.add(yours.get());
        }
      } else {
        ours.add(option);
      }
    }
    List<String> command = new ArrayList<>(jvm.javaCommand());
    command.addAll(ours);
    // The user's options after ours: on a repeated option the JVM takes the last.
    command.addAll(jvm.inputArguments());
    command.addAll(List.of("-cp", jvm.classPath(), jvm.mainClass()));
    command.addAll(args);
    String line = String.format(Locale.ROOT, "node-app: JVM for %d MiB of RAM (%s): %s%s; restarting in it"
        + " (--jvm as-is keeps this one)", ram.bytes() >> 20, ram.source(), sizing.describe(),
        yoursKept.isEmpty() ? "" : "; yours kept: " + String.join(" ", yoursKept));
    return new Relaunch(command, line);
  }

  /** {@code sized} or {@code as-is}, from the flag, else the environment; anything else is one line. */
  static String choice(String flag, String env) {
    if (flag != null) {
      return check(flag.trim(), "--jvm '" + flag + "'");
    }
    if (env != null && !env.isBlank()) {
      return check(env.trim(), ENV + "='" + env + "'");
    }
    return SIZED;
  }

  private static String check(String value, String named) {
    if (!value.equals(AS_IS) && !value.equals(SIZED)) {
      throw new UsageException(named + ": expected " + SIZED + " (choose heap and collector from this device's"
          + " RAM, the default) or " + AS_IS + " (keep the JVM as started)");
    }
    return value;
  }

  /** The option that sets this JVM's heap, if the user gave one. */
  static Optional<String> userHeapOption(List<String> inputArguments) {
    return inputArguments.stream().filter(a -> a.startsWith("-Xmx") || a.startsWith("-Xms")
        || a.startsWith("-XX:MaxRAMPercentage") || a.startsWith("-XX:MaxHeapSize")
        || a.startsWith("-XX:InitialHeapSize") || a.startsWith("-XX:MaxRAM=")).findFirst();
  }

  /**
   * What an option sets, so that the user's can replace ours: {@code -Xss512k} sets {@code -Xss},
   * {@code -XX:+AlwaysPreTouch} and {@code -XX:-AlwaysPreTouch} set {@code AlwaysPreTouch}, any
   * {@code -XX:+Use...GC} chooses the collector.
   */
  static String key(String option) {
    if (option.matches("-XX:[+-]Use\\w*GC")) {
      return "gc";
    }
    if (option.startsWith("-XX:")) {
      String name = option.substring(4).replaceFirst("^[+-]", "");
      int eq = name.indexOf('=');
      return "-XX:" + (eq < 0 ? name : name.substring(0, eq));
    }
    if (option.startsWith("-D")) {
      int eq = option.indexOf('=');
      return eq < 0 ? option : option.substring(0, eq);
    }
    for (String prefix : List.of("-Xss", "-Xms", "-Xmx", "-Xmn")) {
      if (option.startsWith(prefix)) {
        return prefix;
      }
    }
    return option;
  }

  /** This process's JVM: its executable (or {@code dsparse.jvm.command} under emulation), options and class path. */
  static ThisJvm current(Class<?> mainClass) {
    List<String> executable = new ArrayList<>();
    String launcher = System.getProperty(MeasuredJvm.JVM_COMMAND_PROPERTY, "").trim();
    if (launcher.isEmpty()) {
      executable.add(ProcessHandle.current().info().command()
          .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    } else {
      executable.addAll(List.of(launcher.split("\\s+")));
    }
    return new ThisJvm(executable, java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments(),
        System.getProperty("java.class.path"), mainClass.getName(),
        Boolean.parseBoolean(System.getProperty(JvmSizing.CHOSEN_PROPERTY)), Runtime.getRuntime().maxMemory());
  }

  /** The smaller of {@code MemTotal} and this process's memory cgroup limit; null when neither can be read. */
  static Ram ram() {
    long memTotal = memTotal(read(Path.of("/proc/meminfo")));
    OptionalLong limit = OptionalLong.empty();
    try {
      limit = KernelMemory.readSelf().cgroup().map(KernelMemory.Cgroup::limitBytes).orElse(OptionalLong.empty());
    } catch (UncheckedIOException e) {
      // Not Linux: no cgroup either.
    }
    if (limit.isPresent() && (memTotal <= 0 || limit.getAsLong() < memTotal)) {
      return new Ram(limit.getAsLong(), "cgroup limit");
    }
    return memTotal > 0 ? new Ram(memTotal, "MemTotal") : null;
  }

  /** {@code MemTotal} of {@code /proc/meminfo} in bytes; 0 when absent. */
  static long memTotal(String meminfo) {
    for (String line : meminfo.split("\n")) {
      if (line.startsWith("MemTotal:")) {
        try {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * Runs {@code command} with this process's streams and returns its exit code. A stopped parent
   * (SIGTERM, Ctrl-C) stops the node too and waits for it to leave the cluster.
   */
  static int run(List<String> command) {
    ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
    // Their options are in this JVM's input arguments, which the command repeats.
    builder.environment().remove("JAVA_TOOL_OPTIONS");
    builder.environment().remove("JDK_JAVA_OPTIONS");
    Process child;
    try {
      child = builder.start();
    } catch (IOException e) {
      throw new UsageException("cannot start the sized JVM " + command.get(0) + ": " + e.getMessage()
          + " (--jvm as-is runs in this one)");
    }
    Thread stop = new Thread(() -> {
      if (child.isAlive()) {
        child.destroy();
        try {
          if (!child.waitFor(CHILD_STOP_SECONDS, TimeUnit.SECONDS)) {
            child.destroyForcibly().waitFor();
          }
        } catch (InterruptedException e) {
          child.destroyForcibly();
        }
      }
    }, "sized-jvm-stop");
    Runtime.getRuntime().addShutdownHook(stop);
    while (true) {
      try {
        return child.waitFor();
      } catch (InterruptedException e) {
        // Only the shutdown hook ends the child.
      }
    }
  }
}
