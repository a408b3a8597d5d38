package org.dsparse.training.profile;

import com.google.gson.Gson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** Runs each {@link ProfileRequest} in a fresh child JVM and reads back its {@link ProfileResult}. */
public final class MemoryProfiler {
  /** Java heap of the child: fixed and pre-touched, so its resident size does not move while measuring. */
  private static final String CHILD_HEAP = "256m";
  private static final long TIMEOUT_SECONDS = 600;

  private MemoryProfiler() {}

  public static ProfileResult measure(ProfileRequest request) {
    ProcessBuilder builder = MeasuredJvm.builder(CHILD_HEAP, ProfileChild.class, request.toArgs());
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
