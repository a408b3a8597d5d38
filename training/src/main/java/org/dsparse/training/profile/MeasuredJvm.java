package org.dsparse.training.profile;

import java.util.ArrayList;
import java.util.List;

/**
 * Starts a child JVM on this JVM's class path whose resident memory measures what it allocates:
 * a fixed, pre-touched heap (heap use never moves the resident size), glibc serving allocations
 * above 64 KiB by mmap, trimming freed memory at once and using one arena (the resident size follows
 * live memory, not allocator caches), the C1 compiler only, and this JVM's DJL settings.
 *
 * <p>Why C1 only: C2 compiles the hottest Java methods after some seconds of training, and its
 * compiler arenas and code raise the resident size by 10-60 MiB (measured on MobileNetV2 devices),
 * transiently and at no predictable step: as much as a small device's whole training memory. The
 * numerical work is PyTorch's, so C1 costs little speed. The same holds on real edge devices, where
 * {@code -XX:TieredStopAtLevel=1} is the recommended setting for the node app.
 */
public final class MeasuredJvm {
  /**
   * The command that starts a child JVM, words separated by spaces, when it is not this process's
   * own executable: under user-mode emulation this process is the emulator, so the child must be
   * started as {@code qemu-aarch64-static /usr/lib/jvm/java-17-openjdk-arm64/bin/java}. Children
   * inherit it, and {@code jdk.lang.Process.launchMechanism} (FORK under emulation).
   */
  public static final String JVM_COMMAND_PROPERTY = "dsparse.jvm.command";

  private static final List<String> INHERITED_PROPERTIES = List.of("ai.djl.offline", "DJL_CACHE_DIR",
      "ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads", "config.file",
      "logback.configurationFile", JVM_COMMAND_PROPERTY, "jdk.lang.Process.launchMechanism");

  private MeasuredJvm() {}

  /**
   * @param heap the child's fixed heap, e.g. {@code 512m}
   */
  public static ProcessBuilder builder(String heap, Class<?> mainClass, List<String> args) {
    return builder(List.of("-Xms" + heap, "-Xmx" + heap, "-XX:+AlwaysPreTouch", "-XX:TieredStopAtLevel=1"),
        mainClass, args);
  }

  /**
   * A child JVM with {@code jvmOptions} in place of the fixed heap's (a lab device's, chosen from its
   * RAM by {@code JvmSizing}), and the same allocator settings and inherited properties.
   */
  public static ProcessBuilder builder(List<String> jvmOptions, Class<?> mainClass, List<String> args) {
    List<String> command = new ArrayList<>();
    String launcher = System.getProperty(JVM_COMMAND_PROPERTY, "").trim();
    if (launcher.isEmpty()) {
      command.add(ProcessHandle.current().info().command().orElse("java"));
    } else {
      command.addAll(List.of(launcher.split("\\s+")));
    }
    command.addAll(jvmOptions);
    for (String key : INHERITED_PROPERTIES) {
      String value = System.getProperty(key);
      if (value != null) {
        command.add("-D" + key + "=" + value);
      }
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("MALLOC_MMAP_THRESHOLD_", "65536");
    builder.environment().put("MALLOC_TRIM_THRESHOLD_", "0");
    builder.environment().put("MALLOC_ARENA_MAX", "1");
    return builder;
  }
}
