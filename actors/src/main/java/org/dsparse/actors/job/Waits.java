package org.dsparse.actors.job;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dsparse.protocol.job.DeviceInfo;

/**
 * The job coordinator's waits, one at a time, each with a deadline. Each wait has a number that its
 * {@link JobCoordinator.DeadlinePassed} carries: the deadline of an earlier wait may already be in
 * the mailbox when the next wait starts, and is ignored.
 */
final class Waits {
  private final TimerScheduler<JobCoordinator.Command> timers;
  private long started;

  Waits(TimerScheduler<JobCoordinator.Command> timers) {
    this.timers = timers;
  }

  /** Starts a wait of at most {@code deadline} for {@code devicesToHear} to answer (none: for something else). */
  Wait start(Duration deadline, Collection<String> devicesToHear) {
    Wait wait = new Wait(++started, deadline, System.nanoTime(), devicesToHear);
    timers.startSingleTimer("deadline", new JobCoordinator.DeadlinePassed(wait.number), deadline);
    return wait;
  }

  /** One wait: its deadline, when it started, and the devices (names, or actor paths) still to answer. */
  static final class Wait {
    private final long number;
    private final Duration deadline;
    private final long startedNanos;
    private final Set<String> awaiting;

    private Wait(long number, Duration deadline, long startedNanos, Collection<String> devicesToHear) {
      this.number = number;
      this.deadline = deadline;
      this.startedNanos = startedNanos;
      this.awaiting = new LinkedHashSet<>(devicesToHear);
    }

    Duration deadline() {
      return deadline;
    }

    /** Whether {@code passed} is this wait's deadline. */
    boolean endedBy(JobCoordinator.DeadlinePassed passed) {
      return passed.token() == number;
    }

    boolean awaits(String device) {
      return awaiting.contains(device);
    }

    /** {@code device} answered; false when it was not awaited (or already answered). */
    boolean heard(String device) {
      return awaiting.remove(device);
    }

    boolean heardAll() {
      return awaiting.isEmpty();
    }

    /** The devices still to answer. */
    List<String> awaited() {
      return List.copyOf(awaiting);
    }

    double elapsedMillis() {
      return (System.nanoTime() - startedNanos) / 1e6;
    }

    /** The devices still to answer, with their addresses where {@code devices} knows them. */
    List<String> names(Map<String, DeviceInfo> devices) {
      List<String> names = new ArrayList<>();
      for (String key : awaiting) {
        DeviceInfo info = devices.get(key);
        names.add(info != null ? info.name() + " (" + info.address() + ")" : key);
      }
      return names;
    }
  }
}
