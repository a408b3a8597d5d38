package org.dsparse.simulator.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobReport;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.Table;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.lab.LabProfiles;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.simulator.DeviceCgroup;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabJson;
import org.dsparse.simulator.LabMeasure;
import org.dsparse.simulator.ShapedLinks;
import org.dsparse.simulator.Simulation;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.trainer.DjlDefaults;

/**
 * bench/lab: the user's question on the lab's boards, each device a process the kernel holds to its
 * profile (its own memory and cpu cgroups, its tc-shaped link). Four runs of the same job, the same
 * data, seed and steps:
 * <ol>
 *   <li>the full update as users run it: the planner refuses it, naming the device it does not fit;
 *   <li>the full update with the planner's memory check off and without elasticity: the kernel's OOM
 *       killer ends it at a device's limit, and the job fails naming that device;
 *   <li>DSparse, twice: it trains to the end with no OOM kill; each device's kernel-charged peak
 *       (anonymous memory of its cgroup, sampled) beside the memory model's prediction of the whole
 *       process; the two runs' median step times give the lab's repeatability.
 * </ol>
 * Writes {@code results/lab.json}.
 */
public final class LabBench {
  private static final Pattern REFUSED = Pattern.compile("does not fit device (\\S+):");
  private static final Pattern LOST = Pattern.compile("device (\\S+) \\(pekko://");

  private LabBench() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("lab-bench", args, Set.of("config", "out", "repeats"), Set.of());
      DeviceCgroup.unavailable().ifPresent(reason -> {
        throw new UsageException("the lab needs cgroup v1 memory and cpu controllers: " + reason);
      });
      if (System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
        System.exit(ShapedLinks.runInOwnNamespace(LabBench.class, List.of(args)));
      }
      Path file = Path.of(flags.get("config").orElseThrow(() -> new UsageException("--config FILE missing")));
      if (!Files.isRegularFile(file)) {
        throw new UsageException("--config " + file + ": no such file");
      }
      Config config = ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.load()).resolve();
      int repeats = flags.getInt("repeats", 2);
      if (repeats < 1) {
        throw new UsageException("--repeats " + repeats + ": at least 1");
      }
      run(config, Path.of(flags.get("out", "results")), repeats);
      System.exit(0);
    } catch (UsageException | ConfigException | IllegalArgumentException e) {
      System.err.println("lab-bench: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("lab-bench: " + e);
      System.exit(1);
    }
  }

  private static void run(Config config, Path out, int repeats) throws Exception {
    DjlDefaults.apply();
    Files.createDirectories(out);
    SimulationConfig simulation = SimulationConfig.read(config);
    if (!simulation.processes() || simulation.devices().stream().anyMatch(d -> d.lab().isEmpty())) {
      throw new UsageException("lab-bench: every device needs a lab profile, one JVM each (processes = true)");
    }
    Simulation runner = new Simulation(simulation, config, out, System.out::println);
    List<DeviceProfile> devices = simulation.devices();
    List<Long> budgets = runner.budgets();
    int n = devices.size();
    String name = simulation.name();
    JsonObject root = new JsonObject();
    root.add("profiles", profiles(devices));
    root.addProperty("measured", "peakBytes: the peak of each device cgroup's anonymous memory (memory.stat"
        + " total_rss, sampled every " + 20 + " ms); oomKilled: memory.oom_control's oom_kill; stepMillisMedian:"
        + " the median over steps of a step's wall time");
    root.addProperty("predicted", "predictedBytes: the whole process, what its JVM held when it chose its budget"
        + " (cgroup limit less budget, the runtime reserve included) plus the memory model's training peak");
    JsonArray runs = new JsonArray();

    JobSpec spec = simulation.job().spec();
    JobConfig checked = simulation.job().with(spec.withMode(JobSpec.Mode.FULL, name + "-full"), n);
    runs.add(attempt(runner, "full", "as configured (memory check on)", checked, budgets, devices));

    Config unchecked = ConfigFactory.parseString("dsparse.job.planner.memory-check = off\n"
        + "dsparse.job.elastic.enabled = off").withFallback(config);
    JobConfig forced = JobConfig.read(unchecked);
    forced = forced.with(forced.spec().withMode(JobSpec.Mode.FULL, name + "-full-unchecked"), n);
    runs.add(attempt(runner, "full", "memory check off, not elastic", forced, budgets, devices));

    List<Double> medians = new ArrayList<>();
    for (int r = 1; r <= repeats; r++) {
      JobConfig sparse = simulation.job().with(spec.withMode(JobSpec.Mode.DSPARSE, name + "-dsparse-" + r), n);
      JsonObject result = attempt(runner, "dsparse", "run " + r + " of " + repeats, sparse, budgets, devices);
      runs.add(result);
      if (result.get("completed").getAsBoolean()) {
        medians.add(result.get("stepMillisMedian").getAsDouble());
      }
    }
    root.add("runs", runs);
    JsonObject repeatability = new JsonObject();
    JsonArray each = new JsonArray();
    medians.forEach(each::add);
    repeatability.add("stepMillisMedians", each);
    if (medians.size() >= 2) {
      double low = medians.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
      double high = medians.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
      // (max - min) / min of the runs' medians: what a second run of the same job may move by.
      repeatability.addProperty("stepMillisSpread", (high - low) / low);
    } else {
      repeatability.add("stepMillisSpread", JsonNull.INSTANCE);
    }
    root.add("repeatability", repeatability);
    root.add("goals", goals(runs, repeatability));
    Path json = out.resolve("lab.json");
    Files.writeString(json, new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(root));
    print(runs, repeatability);
    System.out.println("wrote " + json);
  }

  private static JsonArray profiles(List<DeviceProfile> devices) {
    JsonArray profiles = new JsonArray();
    Set<String> seen = new LinkedHashSet<>();
    for (DeviceProfile d : devices) {
      LabProfile p = d.lab().orElseThrow();
      if (seen.add(p.name())) {
        profiles.add(LabJson.profile(p));
      }
    }
    return profiles;
  }

  /** One run: its report when it completed, else what stopped it (a refusal, a lost device). */
  private static JsonObject attempt(Simulation runner, String mode, String what, JobConfig job, List<Long> budgets,
      List<DeviceProfile> devices) throws Exception {
    String jobId = job.spec().jobId();
    System.out.println("lab: " + jobId + " (" + mode + ", " + what + ") ...");
    JsonObject run = new JsonObject();
    run.addProperty("job", jobId);
    run.addProperty("mode", mode);
    run.addProperty("what", what);
    run.addProperty("protocol", job.spec().protocol());
    run.addProperty("steps", job.spec().maxStepsPerEpoch() * job.spec().epochs());
    JobReport report = null;
    String failure = null;
    try {
      report = runner.runJob(job, budgets, devices);
    } catch (Simulation.SimulationFailedException e) {
      failure = e.getMessage();
      System.out.println("lab: " + jobId + " failed: " + failure);
    }
    run.addProperty("completed", report != null);
    run.addProperty("failure", failure);
    Matcher refused = failure == null ? null : REFUSED.matcher(failure);
    run.addProperty("refusedBy", refused != null && refused.find() ? refused.group(1) : null);
    Matcher lost = failure == null ? null : LOST.matcher(failure);
    run.addProperty("failedNaming", lost != null && lost.find() ? lost.group(1) : null);
    Map<String, LabMeasure> kernel = runner.labMeasures(jobId);
    JsonArray rows = new JsonArray();
    for (DeviceProfile d : devices) {
      LabMeasure m = kernel.get(d.name());
      JsonObject row = new JsonObject();
      row.addProperty("name", d.name());
      row.addProperty("profile", d.lab().orElseThrow().name());
      row.addProperty("peakBytes", m == null ? null : m.peakAnonymousBytes());
      JobReport.DeviceReport dr = report == null ? null
          : report.devices().stream().filter(x -> x.name().equals(d.name())).findFirst().orElse(null);
      row.addProperty("budgetBytes", dr == null ? null : dr.budgetBytes());
      row.addProperty("predictedTrainingBytes", dr == null ? null : dr.predictedBytes());
      row.addProperty("predictedBytes", dr == null || m == null ? null
          : m.predictedProcessBytes(dr.budgetBytes(), dr.predictedBytes()));
      row.addProperty("oomKilled", m != null && m.oomKilled());
      rows.add(row);
    }
    run.add("devices", rows);
    run.addProperty("stepMillisMedian", report == null ? null : report.medianStepMillis());
    run.addProperty("wireBytesPerStepPerDevice", report == null ? null : report.wireBytesPerStepPerDevice());
    run.addProperty("testAccuracy", report == null ? null : report.testAccuracy());
    return run;
  }

  private static JsonObject goals(JsonArray runs, JsonObject repeatability) {
    JsonObject goals = new JsonObject();
    double worst = 0;
    long oom = 0;
    boolean fullStopped = false;
    for (var element : runs) {
      JsonObject run = element.getAsJsonObject();
      boolean sparse = run.get("mode").getAsString().equals("dsparse");
      for (var d : run.getAsJsonArray("devices")) {
        JsonObject device = d.getAsJsonObject();
        if (sparse) {
          oom += device.get("oomKilled").getAsBoolean() ? 1 : 0;
          if (!device.get("predictedBytes").isJsonNull() && !device.get("peakBytes").isJsonNull()) {
            double peak = device.get("peakBytes").getAsDouble();
            worst = Math.max(worst, Math.abs(device.get("predictedBytes").getAsDouble() - peak) / peak);
          }
        } else if (device.get("oomKilled").getAsBoolean()) {
          fullStopped = true;
        }
      }
      if (!sparse && !run.get("refusedBy").isJsonNull()) {
        fullStopped = true;
      }
    }
    goals.addProperty("dsparsePredictionWorstError", worst);
    goals.addProperty("dsparsePredictionWithin10Percent", worst <= 0.10);
    goals.addProperty("dsparseOomKills", oom);
    goals.addProperty("fullRefusedOrKilled", fullStopped);
    goals.addProperty("stepSpreadAtMost5Percent", !repeatability.get("stepMillisSpread").isJsonNull()
        && repeatability.get("stepMillisSpread").getAsDouble() <= 0.05);
    return goals;
  }

  private static void print(JsonArray runs, JsonObject repeatability) {
    Table table = new Table("run", "device", "profile", "peak MiB", "predicted MiB", "error", "OOM-killed");
    for (var element : runs) {
      JsonObject run = element.getAsJsonObject();
      String label = run.get("job").getAsString() + (run.get("completed").getAsBoolean() ? ""
          : run.get("refusedBy").isJsonNull() ? " (failed)" : " (refused by " + run.get("refusedBy").getAsString() + ")");
      for (var d : run.getAsJsonArray("devices")) {
        JsonObject device = d.getAsJsonObject();
        String peak = device.get("peakBytes").isJsonNull() ? "-" : mib(device.get("peakBytes").getAsLong());
        String predicted = device.get("predictedBytes").isJsonNull() ? "-" : mib(device.get("predictedBytes").getAsLong());
        String error = device.get("predictedBytes").isJsonNull() || device.get("peakBytes").isJsonNull() ? "-"
            : String.format(Locale.ROOT, "%+.1f%%", 100 * (device.get("predictedBytes").getAsDouble()
                / device.get("peakBytes").getAsDouble() - 1));
        table.row(label, device.get("name").getAsString(), device.get("profile").getAsString(), peak, predicted, error,
            device.get("oomKilled").getAsBoolean() ? "yes" : "no");
        label = "";
      }
    }
    System.out.println(table);
    System.out.println("step time, median per run: " + repeatability.get("stepMillisMedians") + " ms; spread "
        + repeatability.get("stepMillisSpread"));
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / 1048576.0);
  }
}
