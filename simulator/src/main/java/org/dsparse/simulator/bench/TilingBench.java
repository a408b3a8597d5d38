package org.dsparse.simulator.bench;

import static org.dsparse.simulator.bench.CollectiveBenchmark.median;

import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobReport;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.tiling.TiledLayer;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.simulator.DeviceCgroup;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabJson;
import org.dsparse.simulator.LabMeasure;
import org.dsparse.simulator.ShapedLinks;
import org.dsparse.simulator.Simulation;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.tiling.TiledGroup;
import org.dsparse.training.trainer.DjlDefaults;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.Pretraining;

/**
 * bench/tiling: jobs whose first layers are tiled across a tile group of k devices
 * ({@code dsparse.job.tiling}), against one device training the whole network (a full-update job on
 * one device), each a real cluster of device processes through the simulator, on the lab when the
 * devices have profiles (each its own cgroups and tc-shaped link). Per k the job's devices are the
 * config's first k; every job has the same data, seed, batch, steps and protocol, and only the mode and
 * the tile group differ. The data's batch order follows the job's partition, which depends on k
 * (the tile group reads one batch a step from its members' shards joined), so the accuracies are of
 * the same number of samples, not of the same batches.
 *
 * <p>Everything is measured by the job itself: the median wall-clock step and compute (the job's
 * report), each device's bytes on the wire by kind (its transports' counts), its kernel-charged peak
 * (its cgroup's anonymous memory) and the bytes tc counted on its link, the test accuracy. The speed-up
 * of a tile count is one device's median step over its own, per run, and the median of the runs'.
 * Beside them stands the cost model's prediction for the tiled layers (what the plan printed).
 */
public final class TilingBench {
  private static final String PATH = "dsparse.bench.tiling";

  private TilingBench() {}

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("tiling-bench", args, Set.of("config", "out", "runs"), Set.of());
      Path file = Path.of(flags.get("config").orElseThrow(() -> new UsageException("--config FILE missing")));
      if (!Files.isRegularFile(file)) {
        throw new UsageException("--config " + file + ": no such file");
      }
      Config config = ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.load()).resolve();
      SimulationConfig simulation = SimulationConfig.read(config);
      Settings settings = Settings.read(config, simulation);
      if (simulation.processes() && simulation.devices().stream().anyMatch(d -> d.lab().isPresent())) {
        DeviceCgroup.unavailable().ifPresent(reason -> {
          throw new UsageException("the lab needs cgroup v1 memory and cpu controllers: " + reason);
        });
      }
      if (ShapedLinks.anyShaped(simulation.devices()) && System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
        System.exit(ShapedLinks.runInOwnNamespace(TilingBench.class, List.of(args)));
      }
      int runs = flags.getInt("runs", 1);
      if (runs < 1) {
        throw new UsageException("--runs " + runs + ": at least 1");
      }
      run(config, simulation, settings, Path.of(flags.get("out", "results")), runs);
      System.exit(0);
    } catch (UsageException | ConfigException | IllegalArgumentException e) {
      System.err.println("tiling-bench: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("tiling-bench: " + e);
      System.exit(1);
    }
  }

  /**
   * The bench's own keys.
   *
   * @param tiles the tile counts, 1 the one device training the whole network
   * @param groupingAt the tile count at which a job with {@code tiling.grouping = fixed} also runs, when
   *     the cost model's best fixed grouping differs from its choice (0: none)
   */
  record Settings(List<Integer> tiles, int groupingAt) {
    static Settings read(Config config, SimulationConfig simulation) {
      Config c = config.getConfig(PATH);
      List<Integer> tiles = c.getIntList("tiles");
      int devices = simulation.devices().size();
      if (tiles.isEmpty() || !tiles.contains(1)) {
        throw new UsageException(PATH + ".tiles = " + tiles + ": list 1 (one device, the whole network: every"
            + " speed-up is against it) and the tile counts");
      }
      for (int k : tiles) {
        if (k < 1 || k > devices) {
          throw new UsageException(PATH + ".tiles: " + k + " is not between 1 and the " + devices
              + " devices of dsparse.simulation.devices (a job of k devices takes the first k)");
        }
      }
      int groupingAt = c.getInt("grouping-at");
      if (groupingAt != 0 && (groupingAt < 2 || !tiles.contains(groupingAt))) {
        throw new UsageException(PATH + ".grouping-at = " + groupingAt + ": 0 (none) or one of the tile counts"
            + " above 1 in " + tiles);
      }
      return new Settings(List.copyOf(tiles), groupingAt);
    }
  }

  /**
   * The job of tile count {@code k}: at 1 the full update on one device, else DSparse with a tile group
   * of all {@code k} devices ({@code tiling.count = k}; the one with the most memory heads it and runs
   * the layers above the tiled ones); the rest as the config has it.
   */
  static JobConfig job(Config config, int k, String grouping, String jobId) {
    Config pinned = ConfigFactory.parseString(k == 1
        ? "dsparse.job { mode = full, tiling.count = 0 }"
        : "dsparse.job { mode = dsparse, tiling { count = " + k + ", grouping = " + grouping + " } }")
        .withFallback(config);
    JobConfig read = JobConfig.read(pinned);
    return read.with(read.spec().withMode(read.spec().mode(), jobId), k);
  }

  private static void run(Config config, SimulationConfig simulation, Settings settings, Path out, int runs)
      throws Exception {
    DjlDefaults.apply();
    Files.createDirectories(out);
    JobSpec spec = simulation.job().spec();
    // The cost model as a tiled job's plan builds it: the configured job's own has no tile group.
    JobSpec tiled = job(config, 2, JobSpec.Tiling.BEST_GROUPING, "cost-model").spec();
    int tiledLayers = tiled.tiling().layers();
    TilingCostModel costs = costModel(tiled);
    Simulation runner = new Simulation(simulation, config, out, System.out::println);
    // Every job starts from the same weights: pre-trained here at the data's own size (28 x 28) when the
    // config asks for it (dsparse.simulation.pretrain), which a network ending in global pooling loads at
    // any input size; else the config's initial checkpoint, or the seed's.
    Optional<Pretraining.Result> pretrained = runner.pretrain();
    if (pretrained.isPresent()) {
      config = ConfigFactory.parseString("dsparse.job.initial-checkpoint = \""
          + pretrained.get().checkpoint().toAbsolutePath() + "\"").withFallback(config);
    }
    String start = pretrained.map(p -> String.format(Locale.ROOT, "pre-trained at the data's size on %d held-out"
        + " images, test accuracy %.2f%%", p.samples(), 100 * p.testAccuracy()))
        .orElse(spec.initialCheckpoint().isEmpty() ? "the seed's weights" : spec.initialCheckpoint());
    List<Long> budgets = runner.budgets();
    List<DeviceProfile> devices = simulation.devices();
    Map<String, List<JsonObject>> rows = new LinkedHashMap<>();
    for (int r = 1; r <= runs; r++) {
      for (int k : settings.tiles()) {
        rows.computeIfAbsent(Integer.toString(k), x -> new ArrayList<>())
            .add(once(runner, config, k, JobSpec.Tiling.BEST_GROUPING, r, devices, budgets, costs));
        write(out, results(spec, start, costs, tiledLayers, r, devices, rows), false);
      }
      int at = settings.groupingAt();
      if (at > 0) {
        TilingCostModel.Cost best = costs.best(at);
        if (!costs.bestFixed(best.grid()).groups().equals(best.groups())) {
          rows.computeIfAbsent(at + "-fixed", x -> new ArrayList<>())
              .add(once(runner, config, at, JobSpec.Tiling.FIXED_GROUPING, r, devices, budgets, costs));
          write(out, results(spec, start, costs, tiledLayers, r, devices, rows), false);
        }
      }
    }
    write(out, results(spec, start, costs, tiledLayers, runs, devices, rows), true);
  }

  /** What the runs so far measured, as results/tiling.json holds it. */
  private static JsonObject results(JobSpec spec, String start, TilingCostModel costs, int tiledLayers, int runs,
      List<DeviceProfile> devices, Map<String, List<JsonObject>> rows) {
    JsonObject root = new JsonObject();
    root.addProperty("measured", "stepMillisMedian and computeMillisMedian: the job's medians over its steps (wall"
        + " clock; compute: the step's slowest device); per device: kernelPeakAnonymousBytes (the peak of its cgroup's"
        + " anonymous memory: its whole process as the kernel charged it), sentBytesPerStep by kind (its transports'"
        + " counts), linkBytesReceived (what tc counted on its link over the whole job, headers and all); testAccuracy"
        + " on the job's test images; speedup: the one device's stepMillisMedian over this row's, in the same run,"
        + " and its median over the runs");
    root.addProperty("predicted", "predictedTiledMillis: the cost model's critical path of the tiled layers alone,"
        + " forward and backward, at the plan's link and the configured compute rate, as the plan printed it");
    root.addProperty("protocol", spec.protocol());
    root.addProperty("startedFrom", start);
    root.addProperty("model", spec.model());
    root.addProperty("resolution", costs.height());
    root.addProperty("batch", spec.batch());
    root.addProperty("stepsPerJob", spec.maxStepsPerEpoch() * spec.epochs());
    root.addProperty("tiledLayers", tiledLayers);
    root.addProperty("runs", runs);
    JsonArray profiles = new JsonArray();
    devices.forEach(d -> d.lab().ifPresent(l -> {
      JsonObject p = LabJson.profile(l);
      p.addProperty("device", d.name());
      profiles.add(p);
    }));
    root.add("lab", profiles);
    JsonArray summary = new JsonArray();
    rows.forEach((key, list) -> summary.add(summary(key, list, rows.getOrDefault("1", List.of()))));
    root.add("rows", summary);
    JsonArray all = new JsonArray();
    rows.values().forEach(list -> list.forEach(all::add));
    root.add("jobs", all);
    return root;
  }

  /**
   * Writes {@code root}: after every job, so that a run cut short keeps what it measured; at the end also
   * prints its rows.
   */
  private static void write(Path out, JsonObject root, boolean last) throws java.io.IOException {
    JsonArray summary = root.getAsJsonArray("rows");
    Path json = out.resolve("tiling.json");
    Files.writeString(json, new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create()
        .toJson(root));
    if (!last) {
      return;
    }
    for (int i = 0; i < summary.size(); i++) {
      System.out.println("tiling: " + summary.get(i));
    }
    System.out.println("wrote " + json);
  }

  /** The tiled layers' cost model, as the plan builds it for the job's model, input and links. */
  private static TilingCostModel costModel(JobSpec spec) throws Exception {
    ImageSet sample = DataSource.parse(spec.data(), "dsparse.job.data").load(Split.TEST);
    int height = sample.height() * spec.upsample();
    int width = sample.width() * spec.upsample();
    int layers = spec.tiling().layers();
    List<TiledLayer> described = DjlThread.call(() -> {
      try (LayeredModel m = Models.create(spec.model(), new Shape(sample.channels(), height, width),
          sample.classes(), spec.seed())) {
        return TiledGroup.of(m.layers().subList(0, layers), sample.channels(), height, width).layers();
      }
    });
    return new TilingCostModel(described, height, width, spec.batch(), spec.tiling().flopsPerSecond(), 2,
        spec.planner().linkBytesPerSecond(), spec.planner().hopLatencySeconds());
  }

  private static JsonObject once(Simulation runner, Config config, int k, String grouping, int r,
      List<DeviceProfile> all, List<Long> allBudgets, TilingCostModel costs) throws Exception {
    String jobId = "tiling-k" + k + (grouping.equals(JobSpec.Tiling.FIXED_GROUPING) ? "-fixed" : "") + "-" + r;
    JobConfig job = job(config, k, grouping, jobId);
    List<DeviceProfile> devices = all.subList(0, k);
    TilingCostModel.Cost cost = k == 1 ? costs.best(new TilingCostModel.Grid(1, 1)) : costs.best(k);
    if (grouping.equals(JobSpec.Tiling.FIXED_GROUPING)) {
      cost = costs.bestFixed(cost.grid());
    }
    System.out.println("tiling: " + jobId + ": " + (k == 1 ? "one device, the whole network (full update)"
        : k + " devices tile layers 0-" + (costs.layers().size() - 1) + ", predicted " + cost.describe()) + " ...");
    JsonObject row = new JsonObject();
    row.addProperty("job", jobId);
    row.addProperty("run", r);
    row.addProperty("k", k);
    row.addProperty("grouping", k == 1 ? "untiled" : grouping);
    row.addProperty("grid", cost.grid().toString());
    row.addProperty("groups", k == 1 ? "untiled" : cost.groups().toString());
    row.addProperty("predictedTiledMillis", cost.seconds() * 1e3);
    JobReport report;
    try {
      report = runner.runJob(job, allBudgets.subList(0, k), devices);
    } catch (Simulation.SimulationFailedException e) {
      row.addProperty("failure", e.getMessage());
      System.out.println("tiling: " + jobId + " failed: " + e.getMessage());
      return row;
    }
    row.addProperty("steps", report.steps());
    row.addProperty("stepMillisMedian", report.medianStepMillis());
    row.addProperty("computeMillisMedian", report.medianComputeMillis());
    row.addProperty("testAccuracy", report.testAccuracy());
    Map<String, LabMeasure> lab = runner.labMeasures(jobId);
    Map<String, Long> link = runner.linkBytes(jobId);
    JsonArray perDevice = new JsonArray();
    double sent = 0;
    double exchanged = 0;
    long peak = -1;
    long headPeak = -1;
    long memberPeak = -1;
    for (JobReport.DeviceReport d : report.devices()) {
      JsonObject one = new JsonObject();
      one.addProperty("name", d.name());
      LabMeasure m = lab.get(d.name());
      one.addProperty("profile", m == null ? null : m.profile());
      one.addProperty("kernelPeakAnonymousBytes", m == null ? null : m.peakAnonymousBytes());
      one.addProperty("oomKilled", m != null && m.oomKilled());
      one.addProperty("predictedTrainingBytes", d.predictedBytes());
      one.addProperty("computeMillisPerStep", d.computeMillisPerStep());
      JsonObject kinds = new JsonObject();
      double deviceSent = 0;
      for (String kind : List.of(WireBytes.TILES, WireBytes.ALL_REDUCE, WireBytes.BROADCAST, WireBytes.REFRESH,
          WireBytes.SHARD, WireBytes.CONTROL)) {
        double bytes = sentPerStep(d, kind);
        kinds.addProperty(kind, bytes);
        deviceSent += bytes;
        if (kind.equals(WireBytes.TILES) || kind.equals(WireBytes.ALL_REDUCE)) {
          exchanged += bytes;
        }
      }
      one.add("sentBytesPerStep", kinds);
      one.addProperty("linkBytesReceived", link.get(d.name()));
      sent += deviceSent;
      if (m != null) {
        peak = Math.max(peak, m.peakAnonymousBytes());
        // The first device has the most memory: it heads the tile group (or is the one device).
        if (d.name().equals(devices.get(0).name())) {
          headPeak = m.peakAnonymousBytes();
        } else {
          memberPeak = Math.max(memberPeak, m.peakAnonymousBytes());
        }
      }
      perDevice.add(one);
    }
    row.addProperty("sentBytesPerStep", sent);
    row.addProperty("exchangeBytesPerStep", exchanged);
    row.addProperty("kernelPeakAnonymousBytesMax", peak < 0 ? null : peak);
    row.addProperty("headKernelPeakAnonymousBytes", headPeak < 0 ? null : headPeak);
    row.addProperty("membersKernelPeakAnonymousBytesMax", memberPeak < 0 ? null : memberPeak);
    row.add("devices", perDevice);
    System.out.println(String.format(Locale.ROOT, "tiling: %s: %.0f ms per step (median; compute %.0f), %.2f MB sent"
            + " per step (%.2f MB exchanges of the tiled layers), largest kernel-charged peak %s, accuracy %.2f%%",
        jobId, report.medianStepMillis(), report.medianComputeMillis(), sent / 1e6, exchanged / 1e6,
        peak < 0 ? "-" : (peak >> 20) + " MiB", report.testAccuracy() * 100));
    return row;
  }

  /** What device {@code d} sent of {@code kind} per step, all groups. */
  private static double sentPerStep(JobReport.DeviceReport d, String kind) {
    return d.wire().stream().filter(w -> w.kind().equals(kind)).mapToLong(WireBytes::sent).sum()
        / (double) Math.max(1, d.steps());
  }

  /**
   * A tile count's figures over the runs: medians of its step, compute, bytes and accuracy, and of the
   * per-run speed-up against the one device of the same run.
   */
  static JsonObject summary(String key, List<JsonObject> runs, List<JsonObject> oneDevice) {
    JsonObject s = new JsonObject();
    s.addProperty("row", key);
    s.addProperty("k", runs.get(0).get("k").getAsInt());
    s.addProperty("grid", runs.get(0).get("grid").getAsString());
    s.addProperty("groups", runs.get(0).get("groups").getAsString());
    s.addProperty("predictedTiledMillis", runs.get(0).get("predictedTiledMillis").getAsDouble());
    List<JsonObject> done = runs.stream().filter(r -> !r.has("failure")).toList();
    s.addProperty("completedRuns", done.size());
    s.addProperty("failures", runs.size() - done.size());
    if (done.isEmpty()) {
      s.addProperty("failure", runs.get(0).get("failure").getAsString());
      return s;
    }
    for (String field : List.of("stepMillisMedian", "computeMillisMedian", "sentBytesPerStep", "exchangeBytesPerStep",
        "testAccuracy")) {
      s.addProperty(field, median(done.stream().mapToDouble(r -> r.get(field).getAsDouble()).toArray()));
    }
    for (String field : List.of("kernelPeakAnonymousBytesMax", "headKernelPeakAnonymousBytes",
        "membersKernelPeakAnonymousBytesMax")) {
      double[] peaks = done.stream().filter(r -> !r.get(field).isJsonNull()).mapToDouble(r -> r.get(field).getAsDouble())
          .toArray();
      s.addProperty(field, peaks.length == 0 ? null : median(peaks));
    }
    List<Double> speedups = new ArrayList<>();
    for (JsonObject r : done) {
      int run = r.get("run").getAsInt();
      oneDevice.stream().filter(o -> o.get("run").getAsInt() == run && !o.has("failure")).findFirst()
          .ifPresent(o -> speedups.add(o.get("stepMillisMedian").getAsDouble() / r.get("stepMillisMedian")
              .getAsDouble()));
    }
    s.addProperty("speedup", speedups.isEmpty() ? null
        : median(speedups.stream().mapToDouble(Double::doubleValue).toArray()));
    return s;
  }
}
