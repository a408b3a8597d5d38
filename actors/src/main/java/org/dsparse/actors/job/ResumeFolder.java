package org.dsparse.actors.job;

import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.JobSpec;

/**
 * A job's resume folder ({@code resume-from}): {@code checkpoint-dir/JOB/epoch-N}, one file per
 * device. When a device refuses its file, the folder of the epoch before is the next to try.
 */
final class ResumeFolder {
  private static final Pattern EPOCH = Pattern.compile("epoch-([0-9]+)");

  private ResumeFolder() {}

  /** Whether {@code failure} is a device refusing its file in the job's resume folder (damaged, missing, another plan). */
  static boolean refused(JobSpec spec, DeviceEvent.Failed failure) {
    return !spec.resumeFrom().isEmpty() && failure.jobId().equals(spec.jobId())
        && failure.reason().contains(spec.resumeFrom());
  }

  /** The folder of the epoch before {@code folder}'s, when it is an epoch's folder after the first. */
  static Optional<Path> previousEpoch(String folder) {
    Path dir = Path.of(folder);
    String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
    Matcher epoch = EPOCH.matcher(name);
    if (!epoch.matches() || Integer.parseInt(epoch.group(1)) <= 1) {
      return Optional.empty();
    }
    return Optional.of(dir.resolveSibling("epoch-" + (Integer.parseInt(epoch.group(1)) - 1)));
  }
}
