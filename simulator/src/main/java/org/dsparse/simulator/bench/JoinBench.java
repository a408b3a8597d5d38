package org.dsparse.simulator.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobReport;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.simulator.DeviceCgroup;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabMeasure;
import org.dsparse.simulator.ShapedLinks;
import org.dsparse.simulator.Simulation;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.trainer.DjlDefaults;

/**
 * bench/join: a device joins a running job on the lab, and takes the job's committed state either
 * from the layer shards (each process group's from its own home, all at once) or from one device's
 * snapshot ({@code dsparse.job.elastic.restore-from = shards | device}). The job starts on the
 * config's devices but the joiner, which starts once the job has reported {@code --after-step}; the
 * job adopts it at its next committed step. Each run does both, one after the other, in alternating
 * order, each a fresh cluster with the same data, seed and steps. Per run and path: seconds from
 * asking for the state to holding it and the state's bytes (the joiner's own report, in the job's
 * recovery), seconds from the join's detection to training again, the bytes tc counted on the
 * joiner's link over the whole job, the joiner's kernel-charged peak. Writes {@code results/join.json}.
 */
public final class JoinBench {
  private static final List<String> PATHS = List.of("shards", "device");

  private JoinBench() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("join-bench", args, Set.of("config", "out", "runs", "joiner", "after-step"),
          Set.of());
      Path file = Path.of(flags.get("config").orElseThrow(() -> new UsageException("--config FILE missing")));
      if (!Files.isRegularFile(file)) {
        throw new UsageException("--config " + file + ": no such file");
      }
      Config config = ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.load()).resolve();
      SimulationConfig simulation = SimulationConfig.read(config);
      if (simulation.processes() && simulation.devices().stream().anyMatch(d -> d.lab().isPresent())) {
        DeviceCgroup.unavailable().ifPresent(reason -> {
          throw new UsageException("the lab needs cgroup v1 memory and cpu controllers: " + reason);
        });
      }
      if (ShapedLinks.anyShaped(simulation.devices()) && System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
        System.exit(ShapedLinks.runInOwnNamespace(JoinBench.class, List.of(args)));
      }
      int runs = flags.getInt("runs", 3);
      // The config pins the joiner and when it starts (dsparse.bench.join); the flags override it.
      int afterStep = flags.getInt("after-step", config.hasPath("dsparse.bench.join.after-step")
          ? config.getInt("dsparse.bench.join.after-step") : 3);
      if (runs < 1 || afterStep < 1) {
        throw new UsageException("--runs and --after-step: at least 1");
      }
      String joiner = flags.get("joiner", config.hasPath("dsparse.bench.join.device")
          ? config.getString("dsparse.bench.join.device")
          : simulation.devices().get(simulation.devices().size() - 1).name());
      run(config, simulation, Path.of(flags.get("out", "results")), runs, joiner, afterStep);
      System.exit(0);
    } catch (UsageException | ConfigException | IllegalArgumentException e) {
      System.err.println("join-bench: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("join-bench: " + e);
      System.exit(1);
    }
  }

  private static void run(Config config, SimulationConfig simulation, Path out, int runs, String joinerName,
      int afterStep) throws Exception {
    DjlDefaults.apply();
    Files.createDirectories(out);
    List<DeviceProfile> all = simulation.devices();
    DeviceProfile joinerProfile = all.stream().filter(d -> d.name().equals(joinerName)).findFirst()
        .orElseThrow(() -> new UsageException("--joiner " + joinerName + ": no such device in the config"));
    // The joiner goes last, so that it takes the last address and link class.
    List<DeviceProfile> devices = new ArrayList<>(all);
    devices.remove(joinerProfile);
    Simulation runner = new Simulation(simulation, config, out, System.out::println);
    List<Long> budgets = runner.budgets();
    long joinerBudget = budgets.get(all.indexOf(joinerProfile));
    List<Long> startBudgets = new ArrayList<>(budgets);
    startBudgets.remove(all.indexOf(joinerProfile));
    Simulation.Joiner joiner = new Simulation.Joiner(joinerProfile, joinerBudget, afterStep);

    JsonObject root = new JsonObject();
    root.addProperty("measured", "seconds: from the joiner asking for the state to holding all of it; bytes: the "
        + "state's floats as bytes (weights, BatchNorm statistics, optimizer state), as the joiner received them; "
        + "trainingAgainSeconds: from the coordinator learning of the join to the next step; joinerLinkBytes: "
        + "what tc counted on the joiner's link over the whole job (all traffic, headers included); "
        + "joinerPeakBytes: the joiner cgroup's peak anonymous memory");
    root.addProperty("joiner", joinerName);
    root.addProperty("afterStep", afterStep);
    root.addProperty("protocol", simulation.job().spec().protocol());
    JsonArray results = new JsonArray();
    Map<String, List<Double>> seconds = new TreeMap<>();
    List<Double> ratios = new ArrayList<>();
    for (int r = 1; r <= runs; r++) {
      List<String> order = r % 2 == 1 ? PATHS : List.of(PATHS.get(1), PATHS.get(0));
      Map<String, Double> pair = new TreeMap<>();
      for (String path : order) {
        JsonObject result = once(runner, config, simulation, path, r, devices, startBudgets, joiner);
        results.add(result);
        if (result.has("seconds") && !result.get("seconds").isJsonNull()) {
          double s = result.get("seconds").getAsDouble();
          seconds.computeIfAbsent(path, k -> new ArrayList<>()).add(s);
          pair.put(path, s);
        }
      }
      if (pair.size() == 2) {
        ratios.add(pair.get("shards") / pair.get("device"));
      }
    }
    root.add("runs", results);
    JsonObject medians = new JsonObject();
    seconds.forEach((path, list) -> medians.addProperty(path + "Seconds", median(list)));
    medians.addProperty("shardsOverDeviceSeconds", ratios.isEmpty() ? null : median(ratios));
    root.add("medians", medians);
    Path json = out.resolve("join.json");
    Files.writeString(json, new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(root));
    System.out.println("join: medians " + medians);
    System.out.println("wrote " + json);
  }

  private static JsonObject once(Simulation runner, Config config, SimulationConfig simulation, String path, int r,
      List<DeviceProfile> devices, List<Long> budgets, Simulation.Joiner joiner) throws Exception {
    Config pinned = ConfigFactory.parseString("dsparse.job.elastic.restore-from = " + path
        + "\ndsparse.job.elastic.enabled = on").withFallback(config);
    JobConfig read = JobConfig.read(pinned);
    String jobId = simulation.name() + "-" + path + "-" + r;
    JobConfig job = read.with(read.spec().withMode(read.spec().mode(), jobId), devices.size());
    System.out.println("join: " + jobId + " (" + joiner.device().name() + " joins after step " + joiner.afterStep()
        + ", its state from " + path + ") ...");
    JsonObject result = new JsonObject();
    result.addProperty("job", jobId);
    result.addProperty("restoreFrom", path);
    result.addProperty("run", r);
    JobReport report;
    try {
      report = runner.runJob(job, budgets, devices, Optional.of(joiner));
    } catch (Simulation.SimulationFailedException e) {
      result.addProperty("failure", e.getMessage());
      System.out.println("join: " + jobId + " failed: " + e.getMessage());
      return result;
    }
    Optional<JobReport.Recovery> adoption = report.recoveries().stream()
        .filter(rec -> rec.joined().contains(joiner.device().name())).findFirst();
    DeviceEvent.StateTaken taken = adoption.map(a -> a.fetched().get(joiner.device().name())).orElse(null);
    result.addProperty("adopted", adoption.isPresent());
    result.addProperty("from", taken == null ? null : taken.from());
    result.addProperty("note", taken == null ? null : taken.note());
    result.addProperty("seconds", taken == null ? null : taken.seconds());
    result.addProperty("bytes", taken == null ? null : taken.bytes());
    result.addProperty("trainingAgainSeconds", adoption.map(a -> (a.trainingAgainAtMillis() - a.detectedAtMillis())
        / 1e3).orElse(null));
    result.addProperty("joinerLinkBytes", runner.linkBytes(jobId).get(joiner.device().name()));
    LabMeasure lab = runner.labMeasures(jobId).get(joiner.device().name());
    result.addProperty("joinerPeakBytes", lab == null ? null : lab.peakAnonymousBytes());
    System.out.println(String.format(Locale.ROOT, "join: %s: %s took the state from %s in %s s, %s bytes", jobId,
        joiner.device().name(), taken == null ? "?" : taken.from(), taken == null ? "?" : taken.seconds(),
        taken == null ? "?" : taken.bytes()));
    return result;
  }

  private static double median(List<Double> values) {
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
