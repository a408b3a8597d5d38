package org.dsparse.training.profile;

import com.google.gson.Gson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs each {@link ProfileRequest} in a fresh child JVM and reads back its {@link ProfileResult}. */
public final class MemoryProfiler {
  /** Java heap of the child: fixed and pre-touched, so its resident size does not move while measuring. */
  private static final String CHILD_HEAP = "256m";
  private static final long TIMEOUT_SECONDS = 600;
  /** DJL settings the child inherits from this JVM. */
  private static final List<String> INHERITED_PROPERTIES = List.of("ai.djl.offline", "DJL_CACHE_DIR",
      "ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads", "logback.configurationFile");

  private MemoryProfiler() {}

  public static ProfileResult measure(ProfileRequest request) {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.add("-Xms" + CHILD_HEAP);
    command.add("-Xmx" + CHILD_HEAP);
    command.add("-XX:+AlwaysPreTouch");
    command.add("-XX:TieredStopAtLevel=1");
    for (String key : INHERITED_PROPERTIES) {
      String value = System.getProperty(key);
      if (value != null) {
        command.add("-D" + key + "=" + value);
      }
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(ProfileChild.class.getName());
    command.addAll(request.toArgs());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    // glibc: allocations above 64 KiB straight from mmap, freed memory trimmed at once, one arena,
    // so the resident size follows live memory instead of allocator caches.
    builder.environment().put("MALLOC_MMAP_THRESHOLD_", "65536");
    builder.environment().put("MALLOC_TRIM_THRESHOLD_", "0");
    builder.environment().put("MALLOC_ARENA_MAX", "1");
    try {
      Process process = builder.start();
      StringBuilder output = new StringBuilder();
      String result = null;
      try (BufferedReader reader = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = reader.readLine()) != null) {
          if (line.startsWith(ProfileChild.RESULT_MARKER)) {
            result = line.substring(ProfileChild.RESULT_MARKER.length());
          } else {
            output.append(line).append('\n');
          }
        }
      }
      if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("profile of " + request + " did not finish in "
            + TIMEOUT_SECONDS + " s");
      }
      if (process.exitValue() != 0 || result == null) {
        throw new IllegalStateException("profile of " + request + " failed (exit "
            + process.exitValue() + "):\n" + tail(output.toString()));
      }
      return new Gson().fromJson(result, ProfileResult.class);
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the profiling JVM: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while profiling", e);
    }
  }

  private static String tail(String text) {
    String[] lines = text.split("\n");
    int from = Math.max(0, lines.length - 15);
    return String.join("\n", java.util.Arrays.copyOfRange(lines, from, lines.length));
  }
}
