package org.dsparse.simulator.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.dsparse.simulator.CoordinatorProcess;

/** What the driver heard from its processes, and waits on. */
final class JobLog {
  String jobId = "";
  /** Why the run cannot go on (a lab device outside its cgroups), or null. */
  String failure;
  long lastStep;
  JsonObject end;
  int devicesReady;
  final List<JsonObject> recoveries = new ArrayList<>();
  final List<Long> coordinatorLossReports = new ArrayList<>();
  /**
   * How long a wait may go without the job reporting a step: a wait ends at its deadline only when
   * the job stopped progressing, so that a job that takes longer at a board's share of a core (the
   * lab: 450 steps in about 20 minutes) is not cut short.
   */
  private final Duration patience;

  JobLog() {
    this(FaultsBench.WAIT.multipliedBy(4));
  }

  JobLog(Duration patience) {
    this.patience = patience;
  }

  /** A recovery as the coordinator reported it, for matching. */
  record Recovery(String cause, List<String> lost, List<String> joined) {}

  synchronized void line(String from, String line) {
    if (line.startsWith(CoordinatorProcess.EVENT)) {
      JsonObject event = JsonParser.parseString(line.substring(CoordinatorProcess.EVENT.length())).getAsJsonObject();
      String type = event.get("type").getAsString();
      JsonObject body = event.getAsJsonObject("event");
      switch (type) {
        case "StepReported" -> lastStep = Math.max(lastStep, body.get("step").getAsLong());
        case "Recovered" -> {
          recoveries.add(body.getAsJsonObject("recovery"));
          System.out.println("[coordinator] recovered: " + body.getAsJsonObject("recovery"));
        }
        case "Succeeded", "Failed" -> {
          if (type.equals("Succeeded") || !body.get("reason").getAsString().contains("--resume devices")) {
            end = event;
          }
          System.out.println("[coordinator] " + type + (type.equals("Failed") ? ": " + body.get("reason") : ""));
        }
        default -> System.out.println("[coordinator] " + type);
      }
    } else if (line.startsWith("DSPARSE-DEVICE-READY ")) {
      devicesReady++;
    } else {
      if (line.contains("its coordinator at")) {
        coordinatorLossReports.add(System.currentTimeMillis());
      }
      if (line.contains("WARN") || line.contains("ERROR") || line.contains("job ")) {
        System.out.println("[" + from + "] " + line);
      }
    }
    notifyAll();
  }

  synchronized void fail(String reason) {
    failure = reason;
    System.err.println("bench/faults: " + reason);
    notifyAll();
  }

  synchronized long lastStep() {
    return lastStep;
  }

  /** The step the job trained again from after the latest recovery (0 before any). */
  synchronized long lastTrainingAgainStep() {
    return recoveries.isEmpty() ? 0 : recoveries.get(recoveries.size() - 1).get("resumedFromStep").getAsLong();
  }

  synchronized void awaitDevicesReady(int count) {
    await(count + " devices up", l -> l.devicesReady >= count);
  }

  synchronized JobLog await(String what, Predicate<JobLog> condition) {
    long deadline = System.currentTimeMillis() + patience.toMillis();
    long progress = lastStep;
    while (!condition.test(this)) {
      if (lastStep != progress) {
        // The job stepped: the wait goes on.
        progress = lastStep;
        deadline = System.currentTimeMillis() + patience.toMillis();
      }
      if (failure != null) {
        throw new IllegalStateException(failure);
      }
      if (end != null && condition != null && !what.equals("the job's end")) {
        throw new IllegalStateException("the job ended (" + end.get("type").getAsString() + ") before " + what);
      }
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new IllegalStateException("no " + what + ", and no step of the job for " + patience + " (last step "
            + lastStep + ")");
      }
      try {
        wait(Math.min(left, 1000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what);
      }
    }
    return this;
  }

  /** The first recovery matching {@code which} that began after {@code t0}. */
  synchronized JsonObject awaitRecovery(Predicate<Recovery> which, long t0) {
    long deadline = System.currentTimeMillis() + FaultsBench.WAIT.toMillis();
    while (true) {
      for (JsonObject r : recoveries) {
        Recovery recovery = new Recovery(r.get("cause").getAsString(), strings(r.getAsJsonArray("lost")),
            strings(r.getAsJsonArray("joined")));
        if (r.get("detectedAtMillis").getAsLong() >= t0 - 1000 && which.test(recovery)) {
          return r;
        }
      }
      if (failure != null) {
        throw new IllegalStateException(failure);
      }
      long left = deadline - System.currentTimeMillis();
      if (left <= 0 || end != null) {
        throw new IllegalStateException("the job did not recover within " + FaultsBench.WAIT);
      }
      try {
        wait(Math.min(left, 1000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted");
      }
    }
  }

  /** When a device first reported its coordinator lost, after {@code t0}. */
  synchronized long awaitDeviceReport(long t0) {
    await("a device's report of the lost coordinator",
        l -> l.coordinatorLossReports.stream().anyMatch(t -> t >= t0));
    return coordinatorLossReports.stream().filter(t -> t >= t0).findFirst().orElseThrow();
  }

  private static List<String> strings(JsonArray array) {
    List<String> values = new ArrayList<>();
    array.forEach(e -> values.add(e.getAsString()));
    return values;
  }
}
