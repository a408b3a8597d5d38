package org.dsparse.training.profile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory, from Linux's /proc. */
public final class ProcessMemory {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private ProcessMemory() {}

  public static long residentBytes() {
    return statusKilobytes("VmRSS:") * 1024;
  }

  public static long peakResidentBytes() {
    return statusKilobytes("VmHWM:") * 1024;
  }

  /** Starts a new peak from the current resident size (Linux 4.0 and later). */
  public static void resetPeak() {
    try {
      Files.writeString(CLEAR_REFS, "5");
    } catch (IOException e) {
      throw new IllegalStateException("cannot reset the peak resident size through " + CLEAR_REFS
          + " (needs Linux 4.0+): " + e.getMessage(), e);
    }
  }

  private static long statusKilobytes(String key) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + STATUS + ": " + e.getMessage(), e);
    }
    throw new IllegalStateException(STATUS + " has no " + key + " line; memory profiling needs Linux");
  }
}
