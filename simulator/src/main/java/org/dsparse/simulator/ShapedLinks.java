package org.dsparse.simulator;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.core.cli.UsageException;

/**
 * Each simulated device's link, shaped for real: the device has its own loopback address
 * ({@code 127.0.0.2}, {@code .3}, ...; the coordinator keeps {@code 127.0.0.1}) and an HTB class on
 * {@code lo} that a u32 filter on that destination address feeds. What a device receives is shaped to
 * its link's rate: its downlink. Ring AllReduce and chain Broadcast make every member receive as much
 * as it sends, so the bound is the same as an uplink's; shaping by destination needs nothing of the
 * sender, whose sockets Linux gives the source 127.0.0.1 whatever address they connect to (Artery's
 * and the data links' outgoing sockets bind none). No latency: the {@code netem} qdisc is not
 * available here.
 *
 * <p>All of this lives in a network namespace of the simulator's own ({@link #runInOwnNamespace}),
 * so the machine's loopback is never touched and everything goes away with the namespace. Unshaped
 * devices get a class too, at {@value #UNSHAPED_RATE}, so that every device's bytes are counted:
 * {@link #bytesReceived()} reads them from tc, TCP/IP headers and all cluster traffic included.
 *
 * <p>Every failure is one {@link UsageException} line naming what failed and how to fix it.
 */
public final class ShapedLinks implements AutoCloseable {
  /** Set in the re-executed simulator: the namespace it runs in. */
  public static final String NAMESPACE_ENV = "DSPARSE_NETNS";
  static final String COORDINATOR_HOST = "127.0.0.1";
  private static final String UNSHAPED_RATE = "100gbit";
  private static final int UNSHAPED_CLASS = 0x1;
  private static final int FIRST_DEVICE_CLASS = 0x10;
  /** Loopback frames are up to 64 KiB; a burst below two of them shapes erratically. */
  private static final long MIN_BURST_BYTES = 128 * 1024;
  private static final String NOT_SHAPED = "or set every device's link = loopback";
  private static final Pattern CLASS_SENT = Pattern.compile(
      "class htb 1:([0-9a-f]+) .*?\\n\\s*Sent ([0-9]+) bytes", Pattern.DOTALL);

  private final String namespace;
  /** Device name to its HTB class minor id. */
  private final Map<String, Integer> classes;

  private ShapedLinks(String namespace, Map<String, Integer> classes) {
    this.namespace = namespace;
    this.classes = classes;
  }

  /** The address device {@code index} binds when links are shaped. */
  public static String host(int index) {
    if (index < 0 || index > 252) {
      throw new UsageException("shaped links give each device a 127.0.0.x address: at most 253 devices");
    }
    return "127.0.0." + (index + 2);
  }

  public static boolean anyShaped(List<DeviceProfile> devices) {
    return devices.stream().anyMatch(d -> d.linkBitsPerSecond() > 0);
  }

  /**
   * Installs an HTB qdisc on {@code lo} with one class per device (its address is {@link #host}),
   * in {@code namespace} or, when it is null, in this process's namespace.
   *
   * @param rates device name to bits per second, in device order; 0 for unshaped
   */
  public static ShapedLinks install(Map<String, Long> rates, String namespace) {
    requireTool("tc");
    Map<String, Integer> classes = new LinkedHashMap<>();
    ShapedLinks links = new ShapedLinks(namespace, classes);
    links.tc("install the HTB qdisc on lo", "qdisc", "replace", "dev", "lo", "root", "handle", "1:", "htb",
        "default", Integer.toHexString(UNSHAPED_CLASS));
    links.addClass(UNSHAPED_CLASS, 0);
    int index = 0;
    for (Map.Entry<String, Long> device : rates.entrySet()) {
      int minor = FIRST_DEVICE_CLASS + index;
      links.addClass(minor, device.getValue());
      links.tc("add the filter of device " + device.getKey(), "filter", "add", "dev", "lo", "parent", "1:",
          "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", host(index) + "/32",
          "flowid", "1:" + Integer.toHexString(minor));
      classes.put(device.getKey(), minor);
      index++;
    }
    return links;
  }

  /** {@link #install} for the devices of an experiment, in this process's namespace. */
  static ShapedLinks install(List<DeviceProfile> devices) {
    Map<String, Long> rates = new LinkedHashMap<>();
    devices.forEach(d -> rates.put(d.name(), d.linkBitsPerSecond()));
    return install(rates, null);
  }

  private void addClass(int minor, long bitsPerSecond) {
    String rate = bitsPerSecond > 0 ? bitsPerSecond + "bit" : UNSHAPED_RATE;
    // About 10 ms at the rate, never below two loopback frames; unshaped: big enough not to throttle.
    long burst = bitsPerSecond > 0 ? Math.max(MIN_BURST_BYTES, bitsPerSecond / 8 / 100) : 4 * 1024 * 1024;
    tc("add HTB class 1:" + Integer.toHexString(minor) + " (" + rate + ")", "class", "add", "dev", "lo",
        "parent", "1:", "classid", "1:" + Integer.toHexString(minor), "htb", "rate", rate, "ceil", rate,
        "burst", Long.toString(burst), "cburst", Long.toString(burst), "quantum", "65536");
  }

  /** Bytes each device has received on its link since {@link #install}, as tc counts them. */
  public Map<String, Long> bytesReceived() {
    Map<Integer, Long> sent = parseClassBytes(tc("read the HTB class counters", "-s", "class", "show", "dev", "lo"));
    Map<String, Long> bytes = new LinkedHashMap<>();
    classes.forEach((device, minor) -> bytes.put(device, sent.getOrDefault(minor, 0L)));
    return bytes;
  }

  /**
   * HTB class minor id to bytes sent, from {@code tc -s class show} text. (tc 6.1's {@code -j} prints
   * text for HTB classes, so the text it is.)
   */
  static Map<Integer, Long> parseClassBytes(String text) {
    Map<Integer, Long> sent = new LinkedHashMap<>();
    for (String block : text.split("\\n(?=class )")) {
      Matcher m = CLASS_SENT.matcher(block.strip());
      if (m.lookingAt()) {
        sent.put(Integer.parseInt(m.group(1), 16), Long.parseLong(m.group(2)));
      }
    }
    return sent;
  }

  /** Removes the qdisc (and so every class and filter); quiet, since the namespace goes anyway. */
  @Override
  public void close() {
    try {
      tc("remove the HTB qdisc", "qdisc", "del", "dev", "lo", "root");
    } catch (UsageException e) {
      System.err.println("simulator: " + e.getMessage());
    }
  }

  private String tc(String what, String... args) {
    List<String> command = new ArrayList<>(List.of("tc"));
    if (namespace != null) {
      command.addAll(List.of("-n", namespace));
    }
    command.addAll(List.of(args));
    return run(command, "shaped links: tc could not " + what);
  }

  /**
   * Runs this JVM's command again ({@code mainClass} with {@code args}, same java, JVM options and
   * class path) in a fresh network namespace {@code dsparse-<pid>} with {@code lo} up, its standard
   * streams inherited; removes the namespace when it ends, also on Ctrl-C.
   *
   * @return the child's exit code
   */
  public static int runInOwnNamespace(Class<?> mainClass, List<String> args) throws InterruptedException {
    requireRoot();
    requireTool("ip");
    requireTool("tc");
    String namespace = "dsparse-" + ProcessHandle.current().pid();
    run(List.of("ip", "netns", "add", namespace), "shaped links: cannot create network namespace " + namespace);
    AtomicBoolean removed = new AtomicBoolean();
    Process[] child = new Process[1];
    Runnable remove = () -> {
      if (removed.compareAndSet(false, true)) {
        run(List.of("ip", "netns", "delete", namespace),
            "shaped links: cannot delete network namespace " + namespace + " (ip netns delete " + namespace + ")");
      }
    };
    Thread hook = new Thread(() -> {
      Process p = child[0];
      if (p != null && p.isAlive()) {
        p.destroy(); // Ctrl-C reached it too, a kill of this JVM alone did not: either way it closes its devices
        try {
          p.waitFor(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        p.destroyForcibly();
      }
      try {
        remove.run();
      } catch (UsageException e) {
        System.err.println("simulator: " + e.getMessage());
      }
    }, "remove-" + namespace);
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      run(List.of("ip", "-n", namespace, "link", "set", "lo", "up"),
          "shaped links: cannot bring up lo in network namespace " + namespace);
      // nsenter, not 'ip netns exec': that one mounts a fresh /sys for the namespace, which hides the
      // cgroup controllers the lab's devices need.
      requireTool("nsenter");
      List<String> command = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + namespace));
      command.add(ProcessHandle.current().info().command().orElse("java"));
      command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add(mainClass.getName());
      command.addAll(args);
      ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
      builder.environment().put(NAMESPACE_ENV, namespace);
      try {
        child[0] = builder.start();
      } catch (IOException e) {
        throw new UsageException("shaped links: cannot start the simulator in namespace " + namespace + ": "
            + e.getMessage());
      }
      return child[0].waitFor();
    } finally {
      remove.run();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // Already shutting down: the hook runs and finds the namespace removed.
      }
    }
  }

  private static void requireRoot() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:") && !line.split("\\s+")[2].equals("0")) {
          throw new UsageException("shaped links need root to create a network namespace (run as root, "
              + NOT_SHAPED + ")");
        }
      }
    } catch (IOException e) {
      throw new UsageException("shaped links need Linux network namespaces (/proc/self/status unreadable: "
          + e.getMessage() + "); " + NOT_SHAPED);
    }
  }

  private static void requireTool(String tool) {
    String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return;
      }
    }
    throw new UsageException("shaped links need the '" + tool + "' command (apt-get install iproute2, "
        + NOT_SHAPED + ")");
  }

  /** Runs a command to its end; its output, or one line naming {@code failure} and the command's error. */
  private static String run(List<String> command, String failure) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getOutputStream().close();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new UsageException(failure + ": '" + String.join(" ", command) + "' did not finish in 30 s");
      }
      if (process.exitValue() != 0) {
        throw new UsageException(failure + ": '" + String.join(" ", command) + "' says: "
            + output.strip().replace('\n', ' ') + " (" + NOT_SHAPED + ")");
      }
      return output;
    } catch (IOException e) {
      throw new UsageException(failure + ": " + e.getMessage() + " (" + NOT_SHAPED + ")");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UsageException(failure + ": interrupted");
    }
  }

  /** {@code 12.3 MB} */
  static String megabytes(long bytes) {
    return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
  }
}
