package org.dsparse.actors.dashboard;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.job.JobReport;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;

/**
 * A {@link JobEvent} as the dashboard page reads it: a JSON object with {@code type} and {@code job}.
 * Sizes are bytes, times milliseconds, accuracies fractions. The page rebuilds a job's whole view
 * from its events in order, so each event carries what changed, not the state.
 */
final class DashboardJson {
  private DashboardJson() {}

  static JsonObject of(JobEvent event) {
    if (event instanceof JobEvent.Planned p) {
      return planned(p);
    } else if (event instanceof JobEvent.StepReported s) {
      return step(s);
    } else if (event instanceof JobEvent.Evaluated e) {
      return object("evaluated", e.jobId(), o -> {
        o.addProperty("step", e.step());
        o.addProperty("accuracy", e.testAccuracy());
      });
    } else if (event instanceof JobEvent.EpochEvaluated e) {
      return object("epoch", e.jobId(), o -> {
        o.addProperty("epoch", e.epoch() + 1);
        o.addProperty("accuracy", e.testAccuracy());
        o.addProperty("meanLoss", e.meanLoss());
      });
    } else if (event instanceof JobEvent.Joining j) {
      return object("joining", j.jobId(), o -> o.addProperty("device", j.device()));
    } else if (event instanceof JobEvent.Recovering r) {
      return recovery("recovering", r.jobId(), r.recovery());
    } else if (event instanceof JobEvent.Recovered r) {
      return recovery("recovered", r.jobId(), r.recovery());
    } else if (event instanceof JobEvent.Paused p) {
      return object("paused", p.jobId(), o -> o.addProperty("reason", p.reason()));
    } else if (event instanceof JobEvent.Succeeded s) {
      return succeeded(s.report());
    } else if (event instanceof JobEvent.Failed f) {
      return object("failed", f.jobId(), o -> o.addProperty("reason", f.reason()));
    }
    throw new IllegalArgumentException("no dashboard form for " + event.getClass().getName());
  }

  private static JsonObject planned(JobEvent.Planned planned) {
    return object("planned", planned.jobId(), o -> {
      o.addProperty("description", planned.description());
      o.add("layers", strings(planned.plan().layerNames()));
      o.addProperty("fullUpdatePeakBytes", planned.plan().fullUpdatePeakBytes());
      JsonArray devices = new JsonArray();
      for (DeviceInfo device : planned.devices()) {
        Assignment assignment = planned.plan().assignments().get(device.name());
        JsonObject d = new JsonObject();
        d.addProperty("name", device.name());
        d.addProperty("address", device.address());
        d.addProperty("budgetBytes", device.budgetBytes());
        d.addProperty("predictedBytes", assignment == null ? 0 : assignment.predictedPeakBytes());
        d.add("layers", ints(assignment == null ? List.of() : assignment.updatedLayers()));
        devices.add(d);
      }
      o.add("devices", devices);
      JsonArray groups = new JsonArray();
      for (GroupPlan group : planned.plan().groups()) {
        JsonObject g = new JsonObject();
        g.addProperty("id", group.groupId());
        g.addProperty("kind", group.isAllReduce() ? WireBytes.ALL_REDUCE : WireBytes.BROADCAST);
        g.add("updaters", strings(group.updaters()));
        g.addProperty("owner", group.owner());
        g.addProperty("home", group.shardHome());
        g.add("layers", ints(group.layers()));
        g.addProperty("weightBytes", group.weightBytes());
        groups.add(g);
      }
      o.add("groups", groups);
    });
  }

  private static JsonObject step(JobEvent.StepReported step) {
    return object("step", step.jobId(), o -> {
      o.addProperty("epoch", step.epoch() + 1);
      o.addProperty("step", step.step());
      o.addProperty("totalSteps", step.totalSteps());
      o.addProperty("loss", step.loss());
      o.addProperty("stepMillis", step.stepMillis());
      o.addProperty("aggregationMillis", step.aggregationMillis());
      o.addProperty("etaSeconds", step.etaSeconds());
      JsonObject devices = new JsonObject();
      for (Map.Entry<String, StepMetrics> entry : step.devices().entrySet()) {
        StepMetrics m = entry.getValue();
        JsonObject d = new JsonObject();
        // A tile group's member other than its head computes no loss: no number, not NaN (not JSON).
        if (!Float.isNaN(m.loss())) {
          d.addProperty("loss", m.loss());
        }
        d.addProperty("computeMillis", m.computeMillis());
        d.addProperty("aggregationMillis", m.aggregationMillis());
        d.addProperty("measuredPeakBytes", m.peakTrainingBytes());
        d.addProperty("wireBytes", m.wireBytes());
        JsonArray wire = new JsonArray();
        for (WireBytes w : m.wire()) {
          JsonObject b = new JsonObject();
          b.addProperty("group", w.group());
          b.addProperty("kind", w.kind());
          b.addProperty("sent", w.sent());
          b.addProperty("received", w.received());
          wire.add(b);
        }
        d.add("wire", wire);
        JsonArray times = new JsonArray();
        for (StepMetrics.GroupTime t : m.groupTimes()) {
          JsonObject b = new JsonObject();
          b.addProperty("group", t.group());
          b.addProperty("kind", t.kind());
          b.addProperty("millis", t.millis());
          times.add(b);
        }
        d.add("groupTimes", times);
        devices.add(entry.getKey(), d);
      }
      o.add("devices", devices);
    });
  }

  private static JsonObject recovery(String type, String jobId, JobReport.Recovery r) {
    return object(type, jobId, o -> {
      o.addProperty("cause", r.cause());
      o.addProperty("phase", r.phase());
      o.add("lost", strings(r.lost()));
      o.add("joined", strings(r.joined()));
      o.addProperty("fromStep", r.resumedFromStep());
      o.addProperty("stepsRedone", r.stepsRedone());
      if (r.trainingAgainAtMillis() > 0) {
        o.addProperty("seconds", (r.trainingAgainAtMillis() - r.detectedAtMillis()) / 1e3);
        o.add("devices", strings(r.devices()));
      }
    });
  }

  private static JsonObject succeeded(JobReport report) {
    return object("succeeded", report.spec().jobId(), o -> {
      o.addProperty("steps", report.steps());
      o.addProperty("testAccuracy", report.testAccuracy());
      o.addProperty("aggMillisPerStep", report.aggMillisPerStep());
      o.addProperty("stepMillis", report.stepMillis());
    });
  }

  private static JsonObject object(String type, String jobId, java.util.function.Consumer<JsonObject> fill) {
    JsonObject o = new JsonObject();
    o.addProperty("type", type);
    o.addProperty("job", jobId);
    o.addProperty("time", System.currentTimeMillis());
    fill.accept(o);
    return o;
  }

  private static JsonArray strings(List<String> values) {
    JsonArray array = new JsonArray();
    values.forEach(array::add);
    return array;
  }

  private static JsonArray ints(List<Integer> values) {
    JsonArray array = new JsonArray();
    values.forEach(array::add);
    return array;
  }
}
