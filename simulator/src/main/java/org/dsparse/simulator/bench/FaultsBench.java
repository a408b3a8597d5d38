package org.dsparse.simulator.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.simulator.CoordinatorProcess;
import org.dsparse.simulator.DeviceCgroup;
import org.dsparse.simulator.DeviceProcess;
import org.dsparse.simulator.DeviceProfile;
import org.dsparse.simulator.LabLaunch;
import org.dsparse.simulator.LabMeasure;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.profile.MeasuredJvm;

/**
 * bench/faults: one job on 7 devices, each its own JVM, and its coordinator in another, while faults
 * are injected in turn: {@code kill -9} of a device, a device stopped (SIGSTOP) until the cluster
 * downs it, a device leaving, restarted devices rejoining, the coordinator killed and the job
 * submitted again with {@code --resume devices}. Before that, the same job (same seed, steps and
 * devices) runs uninterrupted. Writes {@code results/faults.json}: per fault its kind, the phase it
 * hit, whether the job survived it, seconds to detection and to training again, steps redone and
 * committed steps lost; and the accuracy of both runs.
 *
 * <p>Times are measured on this machine's wall clock: the driver notes when it injects a fault, the
 * coordinator when it learns of it and when it gives the devices their next step (for a lost
 * coordinator, the devices' own report of the loss counts as detection).
 *
 * <p>The devices are the config's {@code dsparse.simulation.devices} when it names them (read as the
 * simulator reads them), else d1..d7 with fixed budgets from 1 GiB down to 160 MiB. A device with a
 * lab profile runs on the lab: every process of it (first start and restart) in cgroups of its own
 * ({@link LabLaunch}; a restart gets fresh ones), sized from its RAM and finding its own budget; the
 * results then name each device's profile, what the kernel charged each of its processes, and per
 * fault whether the lost process had been killed by the kernel's OOM killer. The coordinator and the
 * seed node stay off the lab. Links are loopback: the profiles' link rates are not shaped here.
 */
public final class FaultsBench {
  private static final Duration WAIT = Duration.ofMinutes(3);
  private static final String DEVICE_HEAP = "384m";
  private static final List<String> NAMES = List.of("d1", "d2", "d3", "d4", "d5", "d6", "d7");
  private static final List<String> BUDGETS = List.of("1GiB", "768MiB", "512MiB", "384MiB", "256MiB", "192MiB",
      "160MiB");
  private static final AtomicInteger LABS = new AtomicInteger();

  private final Path config;
  private final Config base;
  /** The seven devices, in the schedule's order (d7 is the seventh). */
  private final List<DeviceProfile> profiles;
  private final String lab = "dsparse-faults-" + ProcessHandle.current().pid() + "-" + LABS.incrementAndGet();
  /** Each lab device's current cgroups, until its process is gone and it restarts or the run ends. */
  private final Map<String, DeviceCgroup> cgroups = new ConcurrentHashMap<>();
  /** Each device's latest process, lost or not. */
  private final Map<String, Process> latest = new ConcurrentHashMap<>();
  private final Map<String, Integer> starts = new ConcurrentHashMap<>();
  /** What the kernel charged each finished lab process, in the order they ended. */
  private final List<LabMeasure> labMeasures = new ArrayList<>();
  private final int gapSteps;
  private final int seed;
  private final int evaluateEvery;
  private final int stepsPerEpoch;
  private DsparseNode seedNode;
  private final Map<String, Process> devices = new ConcurrentHashMap<>();
  private Process coordinator;
  private final JobLog log = new JobLog();

  private FaultsBench(Path config, int gapSteps, int seed) {
    this.config = config;
    this.gapSteps = gapSteps;
    this.seed = seed;
    this.base = ConfigFactory.parseFile(config.toFile()).withFallback(ConfigFactory.load()).resolve();
    this.profiles = devices(config);
    var job = base.getConfig("dsparse.job");
    this.evaluateEvery = job.getInt("evaluate-every");
    this.stepsPerEpoch = job.getInt("max-steps-per-epoch");
    if (stepsPerEpoch <= 0 || evaluateEvery <= 0) {
      throw new IllegalArgumentException(config + ": bench/faults needs max-steps-per-epoch and evaluate-every above 0 "
          + "(the same steps per epoch whatever the devices, and evaluations to hit)");
    }
  }

  /**
   * The seven devices: the config's {@code dsparse.simulation.devices} when the file sets them, else
   * d1..d7 with {@link #BUDGETS}. A device off the lab needs a size for its budget (the driver passes it
   * to the device as it is); links are not shaped.
   */
  static List<DeviceProfile> devices(Path config) {
    Config file = ConfigFactory.parseFile(config.toFile());
    if (!file.hasPath("dsparse.simulation.devices")) {
      List<DeviceProfile> builtIn = new ArrayList<>();
      for (int i = 0; i < NAMES.size(); i++) {
        builtIn.add(new DeviceProfile(NAMES.get(i), BUDGETS.get(i), 1, 0));
      }
      return builtIn;
    }
    List<DeviceProfile> devices = SimulationConfig.devices(file.withFallback(ConfigFactory.load()).resolve()
        .getConfig("dsparse.simulation"));
    if (devices.size() != NAMES.size()) {
      throw new UsageException(config + ": dsparse.simulation.devices: bench/faults' schedule needs "
          + NAMES.size() + " devices, got " + devices.size());
    }
    for (DeviceProfile d : devices) {
      if (d.lab().isEmpty() && d.budget().trim().endsWith("%")) {
        throw new UsageException(config + ": device " + d.name() + ": budget = " + d.budget() + ": bench/faults"
            + " needs a size (e.g. 256MiB) or a lab profile");
      }
    }
    return devices;
  }

  /** Each device's profile as results/faults.json records it (null off the lab), with the lab's cores. */
  static JsonObject labDescription(List<DeviceProfile> devices, Config base) {
    JsonArray list = new JsonArray();
    double cores = 0;
    for (DeviceProfile d : devices) {
      JsonObject one = new JsonObject();
      one.addProperty("device", d.name());
      one.addProperty("budget", d.budget());
      if (d.lab().isPresent()) {
        LabProfile p = d.lab().get();
        JsonObject profile = new JsonObject();
        profile.addProperty("name", p.name());
        profile.addProperty("board", p.board());
        profile.addProperty("memoryLimitBytes", p.memoryLimitBytes());
        profile.addProperty("cpuCores", p.cpuCores());
        profile.addProperty("describe", p.describe());
        one.add("profile", profile);
        cores += p.cpuCores();
      } else {
        one.add("profile", JsonNull.INSTANCE);
      }
      list.add(one);
    }
    JsonObject lab = new JsonObject();
    lab.add("devices", list);
    lab.addProperty("labCpuCores", cores);
    lab.addProperty("heartbeatPause", base.getString(LabLaunch.FAILURE_DETECTOR_PAUSE));
    lab.addProperty("links", "loopback (the profiles' link rates are not shaped by bench/faults)");
    return lab;
  }

  public static void main(String[] args) throws Exception {
    Flags flags = Flags.parse("faults-bench", args, Set.of("config", "out", "gap", "seeds"), Set.of());
    Path config = Path.of(flags.get("config").orElseThrow(() -> new IllegalArgumentException("--config FILE needed")));
    Path out = Path.of(flags.get("out", "results/faults.json"));
    int gap = Integer.parseInt(flags.get("gap", "15"));
    int seeds = Integer.parseInt(flags.get("seeds", "1"));
    JsonArray faults = new JsonArray();
    JsonArray runs = new JsonArray();
    double deltaSum = 0;
    double lastThreeSum = 0;
    for (int seed = 1; seed <= seeds; seed++) {
      // The same job, seed, steps and devices, without and with the faults.
      JsonObject uninterrupted = new FaultsBench(config, gap, seed).run("faults-uninterrupted-" + seed, false);
      JsonObject withFaults = new FaultsBench(config, gap, seed).run("faults-injected-" + seed, true);
      double a = uninterrupted.get("testAccuracy").getAsDouble();
      double b = withFaults.has("testAccuracy") ? withFaults.get("testAccuracy").getAsDouble() : Double.NaN;
      // One evaluation moves by a point or two between neighbours this early in training: the mean of
      // the last three evaluations of each run is steadier.
      double lastThree = 100 * (meanOfLast(withFaults, 3) - meanOfLast(uninterrupted, 3));
      JsonObject run = new JsonObject();
      run.addProperty("seed", seed);
      run.addProperty("uninterruptedAccuracy", a);
      run.addProperty("faultyAccuracy", b);
      run.addProperty("accuracyDelta", 100 * (b - a));
      run.addProperty("accuracyDeltaLastThreeEvaluations", lastThree);
      run.addProperty("uninterruptedSteps", uninterrupted.get("steps").getAsLong());
      run.addProperty("faultySteps", withFaults.has("steps") ? withFaults.get("steps").getAsLong() : -1);
      run.addProperty("uninterruptedSeconds", uninterrupted.get("seconds").getAsDouble());
      run.addProperty("faultySeconds", withFaults.get("seconds").getAsDouble());
      run.add("uninterruptedCurve", uninterrupted.get("accuracyCurve"));
      run.add("faultyCurve", withFaults.get("accuracyCurve"));
      run.add("uninterruptedLabMeasures", uninterrupted.get("labMeasures"));
      run.add("faultyLabMeasures", withFaults.get("labMeasures"));
      runs.add(run);
      deltaSum += 100 * (b - a);
      lastThreeSum += lastThree;
      for (JsonElement f : withFaults.getAsJsonArray("faults")) {
        f.getAsJsonObject().addProperty("seed", seed);
        faults.add(f);
      }
    }
    Summary summary = summarize(faults);
    JsonObject result = new JsonObject();
    result.add("faults", faults);
    result.addProperty("faultsInjected", faults.size());
    result.addProperty("faultsSurvived", summary.survived());
    // Sums over the faults whose lost steps are known; an unsurvived fault's are unknown (null).
    result.addProperty("committedStepsLost", summary.committedStepsLost());
    result.addProperty("stepsRedone", summary.stepsRedone());
    result.addProperty("lostStepsUnknown", summary.lostStepsUnknown());
    result.addProperty("maxDetectedSeconds", summary.maxDetectedSeconds());
    result.addProperty("maxTrainingAgainSeconds", summary.maxTrainingAgainSeconds());
    result.addProperty("accuracyDelta", deltaSum / seeds);
    result.addProperty("accuracyDeltaLastThreeEvaluations", lastThreeSum / seeds);
    result.add("runs", runs);
    result.addProperty("config", config.toString());
    result.add("lab", labDescription(devices(config), ConfigFactory.parseFile(config.toFile())
        .withFallback(ConfigFactory.load()).resolve()));
    result.addProperty("measured", "detection and training-again times on this machine's wall clock; accuracy on the "
        + "job's test set; accuracyDelta in points (faulty minus uninterrupted), the mean over the seeds' runs; "
        + "committedStepsLost and stepsRedone summed over the faults that report them (an unsurvived fault's are "
        + "unknown: null, counted in lostStepsUnknown); on the lab (lab.devices' profiles), each lab process's "
        + "peakAnonymousBytes as the kernel charged it (runs[].*LabMeasures, one per process: a restart is a new one) "
        + "and per fault oomKilled (the lost process had been killed by the kernel's OOM killer; null for the "
        + "coordinator, restarts and devices off the lab)");
    Files.createDirectories(out.toAbsolutePath().getParent());
    // serializeNulls: an unsurvived fault's unknown values are written as null, not left out.
    Files.writeString(out, new GsonBuilder().setPrettyPrinting().serializeNulls().serializeSpecialFloatingPointValues()
        .create().toJson(result));
    Path figure = plot(faults, out.resolveSibling("faults.png"));
    for (JsonElement r : runs) {
      JsonObject run = r.getAsJsonObject();
      System.out.printf("seed %d: accuracy %.2f%% uninterrupted vs %.2f%% with faults (%+.2f points; %+.2f over the last"
          + " three evaluations)%n", run.get("seed").getAsInt(), 100 * run.get("uninterruptedAccuracy").getAsDouble(),
          100 * run.get("faultyAccuracy").getAsDouble(), run.get("accuracyDelta").getAsDouble(),
          run.get("accuracyDeltaLastThreeEvaluations").getAsDouble());
    }
    table(faults).forEach(System.out::println);
    System.out.printf("faults survived %d of %d, committed steps lost %s, detection <= %.1f s, training again <= %.1f s,"
        + " accuracy delta %+.2f points (%+.2f over the last three evaluations), mean of %d seed(s); %s%n",
        summary.survived(), faults.size(), known(summary.committedStepsLost(), summary.lostStepsUnknown()),
        summary.maxDetectedSeconds(), summary.maxTrainingAgainSeconds(), deltaSum / seeds, lastThreeSum / seeds, seeds,
        out);
    System.out.println("figure: " + figure);
    System.exit(0);
  }

  /**
   * What the faults add up to. Lost steps are summed over the faults that report them: the job did not
   * survive the others, so how many steps they cost is unknown, and {@code lostStepsUnknown} counts them
   * instead of adding a 0. The maxima are over the survived faults other than restarts.
   */
  record Summary(long survived, long committedStepsLost, long stepsRedone, long lostStepsUnknown,
      double maxDetectedSeconds, double maxTrainingAgainSeconds) {}

  static Summary summarize(JsonArray faults) {
    long survived = 0;
    long lost = 0;
    long redone = 0;
    long unknown = 0;
    double maxDetected = 0;
    double maxTrainingAgain = 0;
    for (JsonElement f : faults) {
      JsonObject fault = f.getAsJsonObject();
      boolean ok = fault.get("survived").getAsBoolean();
      survived += ok ? 1 : 0;
      if (ok && !fault.get("kind").getAsString().equals("restart")) {
        maxDetected = Math.max(maxDetected, fault.get("detectedSeconds").getAsDouble());
        maxTrainingAgain = Math.max(maxTrainingAgain, fault.get("trainingAgainSeconds").getAsDouble());
      }
      Long faultLost = number(fault, "committedStepsLost");
      Long faultRedone = number(fault, "stepsRedone");
      if (faultLost == null || faultRedone == null) {
        unknown++;
      }
      lost += faultLost == null ? 0 : faultLost;
      redone += faultRedone == null ? 0 : faultRedone;
    }
    return new Summary(survived, lost, redone, unknown, maxDetected, maxTrainingAgain);
  }

  /**
   * The printed table, one row per kind of fault: injected, survived, seconds to detection and to
   * training again (median / max over the survived ones), steps redone and committed steps lost
   * (sums over the faults that report them, with how many are unknown).
   */
  static List<String> table(JsonArray faults) {
    Map<String, JsonArray> byKind = new java.util.LinkedHashMap<>();
    for (JsonElement f : faults) {
      byKind.computeIfAbsent(f.getAsJsonObject().get("kind").getAsString(), k -> new JsonArray()).add(f);
    }
    List<String> lines = new ArrayList<>();
    lines.add(String.format("%-22s %8s %8s %16s %16s %14s %14s", "fault", "injected", "survived",
        "detected s", "again s", "steps redone", "steps lost"));
    byKind.forEach((kind, list) -> {
      Summary s = summarize(list);
      List<Double> detected = new ArrayList<>();
      List<Double> again = new ArrayList<>();
      for (JsonElement f : list) {
        JsonObject fault = f.getAsJsonObject();
        if (fault.get("survived").getAsBoolean()) {
          detected.add(fault.get("detectedSeconds").getAsDouble());
          again.add(fault.get("trainingAgainSeconds").getAsDouble());
        }
      }
      lines.add(String.format("%-22s %8d %8d %16s %16s %14s %14s", kind, list.size(), s.survived(),
          medianMax(detected), medianMax(again), known(s.stepsRedone(), s.lostStepsUnknown()),
          known(s.committedStepsLost(), s.lostStepsUnknown())));
    });
    return lines;
  }

  /** A sum over the known values, and how many are unknown ("?") when any is. */
  static String known(long sum, long unknown) {
    return unknown == 0 ? Long.toString(sum) : sum + " + " + unknown + " unknown (?)";
  }

  private static String medianMax(List<Double> values) {
    if (values.isEmpty()) {
      return "?";
    }
    double median = medians(Map.of("", values)).get("");
    return String.format("%.1f / %.1f", median, values.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
  }

  /** A fault's count, null when it is unknown (JSON null, or absent). */
  private static Long number(JsonObject fault, String key) {
    JsonElement value = fault.get(key);
    return value == null || value.isJsonNull() ? null : value.getAsLong();
  }

  /** Seconds to detection and to training again, the median of each kind of fault over the runs. */
  private static Path plot(JsonArray faults, Path file) throws IOException {
    Map<String, List<Double>> detected = new java.util.LinkedHashMap<>();
    Map<String, List<Double>> again = new java.util.LinkedHashMap<>();
    for (JsonElement f : faults) {
      JsonObject fault = f.getAsJsonObject();
      if (!fault.get("survived").getAsBoolean()) {
        continue;
      }
      String kind = fault.get("kind").getAsString();
      detected.computeIfAbsent(kind, k -> new ArrayList<>()).add(fault.get("detectedSeconds").getAsDouble());
      again.computeIfAbsent(kind, k -> new ArrayList<>()).add(fault.get("trainingAgainSeconds").getAsDouble());
    }
    Map<String, Map<String, Double>> bars = new java.util.LinkedHashMap<>();
    bars.put("detected", medians(detected));
    bars.put("training again", medians(again));
    return org.dsparse.simulator.Plots.bars(file, "Seconds from the fault (median per kind)", "s", bars);
  }

  private static Map<String, Double> medians(Map<String, List<Double>> values) {
    Map<String, Double> medians = new java.util.LinkedHashMap<>();
    values.forEach((kind, v) -> {
      double[] sorted = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      int mid = sorted.length / 2;
      medians.put(kind, sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2);
    });
    return medians;
  }

  /** The mean accuracy of a run's last {@code n} evaluations (NaN without them). */
  private static double meanOfLast(JsonObject run, int n) {
    if (!run.has("accuracyCurve")) {
      return Double.NaN;
    }
    JsonArray curve = run.getAsJsonArray("accuracyCurve");
    double sum = 0;
    int count = 0;
    for (int i = Math.max(0, curve.size() - n); i < curve.size(); i++) {
      sum += curve.get(i).getAsJsonObject().get("accuracy").getAsDouble();
      count++;
    }
    return count == 0 ? Double.NaN : sum / count;
  }

  /** Runs the job once, with the fault schedule when {@code faults}; answers its outcome. */
  private JsonObject run(String jobId, boolean faults) throws Exception {
    long started = System.currentTimeMillis();
    seedNode = DsparseNode.startCoordinator(NodeConfig.node(base, "seed", "127.0.0.1", 0, List.of(), "1GiB", false));
    seedNode.join(seedNode.address());
    seedNode.awaitUp(Duration.ofSeconds(30));
    JsonObject result = new JsonObject();
    JsonArray injected = new JsonArray();
    try {
      for (DeviceProfile device : profiles) {
        startDevice(device);
      }
      log.awaitDevicesReady(profiles.size());
      coordinator = startCoordinator(jobId, false);
      log.await("the first step", l -> l.lastStep >= 1);
      if (faults) {
        schedule(injected);
      }
      JsonObject end = log.await("the job's end", l -> l.end != null).end;
      result.addProperty("type", end.get("type").getAsString());
      if (end.get("type").getAsString().equals("Succeeded")) {
        JsonObject report = end.getAsJsonObject("event").getAsJsonObject("report");
        result.addProperty("testAccuracy", report.get("testAccuracy").getAsDouble());
        result.addProperty("steps", report.get("steps").getAsLong());
        result.add("recoveries", report.get("recoveries"));
        result.add("accuracyCurve", report.get("accuracyCurve"));
      } else {
        result.addProperty("failure", end.toString());
      }
    } catch (IllegalStateException e) {
      System.err.println("bench/faults: " + e.getMessage());
      result.addProperty("failure", e.getMessage());
    } finally {
      result.add("faults", injected);
      result.addProperty("seconds", (System.currentTimeMillis() - started) / 1e3);
      devices.values().forEach(Process::destroyForcibly);
      if (coordinator != null) {
        coordinator.destroyForcibly();
      }
      new ArrayList<>(cgroups.keySet()).forEach(this::retire);
      if (starts.keySet().stream().anyMatch(name -> profile(name).lab().isPresent())) {
        DeviceCgroup.removeLab(lab);
      }
      JsonArray measures = new JsonArray();
      synchronized (labMeasures) {
        labMeasures.forEach(m -> measures.add(measure(m)));
      }
      result.add("labMeasures", measures);
      seedNode.close();
    }
    return result;
  }

  /** The faults, one after another, each once the job trains again after the previous one. */
  private void schedule(JsonArray out) throws Exception {
    out.add(kill(name(7), "step", 20));
    out.add(restart(name(7)));
    out.add(stopUntilDowned(name(6)));
    out.add(restart(name(6)));
    out.add(kill(name(5), "evaluate", 0));
    out.add(restart(name(5)));
    out.add(killCoordinator());
    out.add(leave(name(4)));
    out.add(restart(name(4)));
    out.add(kill(name(3), "epoch-end", 0));
    out.add(restart(name(3)));
    out.add(stopUntilDowned(name(2)));
    out.add(restart(name(2)));
  }

  /** The name of the {@code n}th device, from 1 (the built-in names are d1..d7). */
  private String name(int n) {
    return profiles.get(n - 1).name();
  }

  private DeviceProfile profile(String name) {
    return profiles.stream().filter(d -> d.name().equals(name)).findFirst().orElseThrow();
  }

  /** Waits until the job is where the fault should hit: a step, an evaluation, an epoch's end. */
  private long awaitTrigger(String trigger, long atLeast) {
    long from = Math.max(atLeast, log.lastTrainingAgainStep() + gapSteps);
    Predicate<JobLog> due = switch (trigger) {
      case "evaluate" -> l -> l.lastStep >= from && l.lastStep % evaluateEvery == 0 && l.lastStep % stepsPerEpoch != 0;
      case "epoch-end" -> l -> l.lastStep >= from && l.lastStep % stepsPerEpoch == 0;
      default -> l -> l.lastStep >= from;
    };
    return log.await(trigger + " after step " + from, due).lastStep;
  }

  private JsonObject kill(String device, String trigger, long atLeast) {
    long step = awaitTrigger(trigger, atLeast);
    long t0 = System.currentTimeMillis();
    Process process = devices.remove(device);
    process.destroyForcibly();
    JsonObject fault = lostFault("kill -9", device, t0, step);
    fault.add("oomKilled", oomKilled(device, process));
    return fault;
  }

  private JsonObject leave(String device) throws IOException {
    long step = awaitTrigger("step", 0);
    long t0 = System.currentTimeMillis();
    Process process = devices.remove(device);
    process.getOutputStream().close(); // DeviceProcess leaves the cluster and exits
    JsonObject fault = lostFault("leave", device, t0, step);
    fault.add("oomKilled", oomKilled(device, process));
    return fault;
  }

  /** SIGSTOP until the job re-planned without it; SIGCONT then finds its node downed, and it exits. */
  private JsonObject stopUntilDowned(String device) throws Exception {
    long step = awaitTrigger("step", 0);
    Process process = devices.remove(device);
    long t0 = System.currentTimeMillis();
    signal(process, "STOP");
    JsonObject fault = lostFault("SIGSTOP (cut off)", device, t0, step);
    signal(process, "CONT");
    if (!process.waitFor(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)) {
      process.destroyForcibly();
      fault.addProperty("note", "still running " + WAIT + " after SIGCONT; killed");
    }
    fault.add("oomKilled", oomKilled(device, process));
    return fault;
  }

  private JsonObject lostFault(String kind, String device, long t0, long stepBefore) {
    return observed(kind, device, t0, stepBefore, () -> { }, r -> r.lost().contains(device));
  }

  /** A restart is a new process; on the lab in fresh cgroups, the old ones closed once its process is gone. */
  private JsonObject restart(String device) {
    return observed("restart", device, System.currentTimeMillis(), log.lastStep(), () -> {
      retire(device);
      startDevice(profile(device));
    }, r -> r.joined().contains(device));
  }

  /** Runs {@code inject} and describes the recovery {@code which} that follows, begun after {@code t0}. */
  private JsonObject observed(String kind, String device, long t0, long stepBefore, Runnable inject,
      Predicate<JobLog.Recovery> which) {
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", kind);
    fault.addProperty("device", device);
    fault.add("oomKilled", JsonNull.INSTANCE);
    try {
      inject.run();
      describe(fault, log.awaitRecovery(which, t0), t0, stepBefore);
    } catch (IllegalStateException e) {
      unsurvived(fault, e.getMessage());
    }
    System.out.println("fault: " + fault);
    return fault;
  }

  private JsonObject killCoordinator() {
    long step = awaitTrigger("step", 0);
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", "kill -9 coordinator");
    fault.addProperty("device", "coordinator");
    fault.add("oomKilled", JsonNull.INSTANCE); // off the lab
    long t0 = System.currentTimeMillis();
    coordinator.destroyForcibly();
    try {
      long reported = log.awaitDeviceReport(t0);
      coordinator = startCoordinator(log.jobId, true);
      JsonObject recovery = log.awaitRecovery(r -> r.cause().startsWith("resumed"), t0);
      describe(fault, recovery, t0, step);
      fault.addProperty("detectedSeconds", (reported - t0) / 1e3);
      fault.addProperty("phase", "step " + step + " (the devices' report of the loss is the detection)");
    } catch (IllegalStateException e) {
      unsurvived(fault, e.getMessage());
    }
    System.out.println("fault: " + fault);
    return fault;
  }

  private static void describe(JsonObject fault, JsonObject recovery, long t0, long stepBefore) {
    String cause = recovery.get("cause").getAsString();
    String phase = recovery.get("phase").getAsString();
    // Where in the step: a survivor's failing collective names its group (.ar AllReduce, .rf refresh).
    if (cause.contains(".ar ") || cause.contains(".ar)")) {
      phase += " (AllReduce)";
    } else if (cause.contains(".rf ") || cause.contains(".rf)")) {
      phase += " (Broadcast)";
    }
    long resumed = recovery.get("resumedFromStep").getAsLong();
    fault.addProperty("phase", phase);
    fault.addProperty("survived", true);
    fault.addProperty("detectedSeconds", (recovery.get("detectedAtMillis").getAsLong() - t0) / 1e3);
    fault.addProperty("trainingAgainSeconds", (recovery.get("trainingAgainAtMillis").getAsLong() - t0) / 1e3);
    fault.addProperty("stepsRedone", recovery.get("stepsRedone").getAsLong());
    // Every step refreshes every layer (refresh-interval = 1), so every step reported was committed.
    fault.addProperty("committedStepsLost", Math.max(0, stepBefore - resumed));
    fault.addProperty("resumedFromStep", resumed);
    fault.addProperty("cause", cause);
    fault.add("devicesAfter", recovery.get("devices"));
  }

  /**
   * A fault the job did not recover from: when it was detected, when training went on and which steps
   * it cost are unknown, so they are null, not a number that a sum or a table would take for one.
   */
  static void unsurvived(JsonObject fault, String note) {
    fault.addProperty("survived", false);
    fault.addProperty("phase", "");
    fault.add("detectedSeconds", JsonNull.INSTANCE);
    fault.add("trainingAgainSeconds", JsonNull.INSTANCE);
    fault.add("stepsRedone", JsonNull.INSTANCE);
    fault.add("committedStepsLost", JsonNull.INSTANCE);
    fault.addProperty("note", note);
  }

  private static void signal(Process process, String signal) throws Exception {
    new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start().waitFor();
  }

  // ---- processes --------------------------------------------------------------------------------

  /**
   * Starts a device's process; a lab device's in cgroups of its own (a restart's named
   * {@code <device>-<n>}), whose membership is checked once the device is up.
   */
  private void startDevice(DeviceProfile device) {
    String name = device.name();
    int start = starts.merge(name, 1, Integer::sum);
    DeviceCgroup cgroup = device.lab().map(p -> DeviceCgroup.create(lab, start == 1 ? name : name + "-" + start, p))
        .orElse(null);
    List<String> args = new ArrayList<>(List.of("--name", name, "--budget", LabLaunch.budget(cgroup, device.budget()),
        "--seed", seedNode.address(), "--host", "127.0.0.1"));
    if (device.computeSlowdown() != 1) {
      args.addAll(List.of("--compute-slowdown", Double.toString(device.computeSlowdown())));
    }
    ProcessBuilder builder = LabLaunch.builder(cgroup, DEVICE_HEAP, DeviceProcess.class, args, base);
    Process process;
    if (cgroup == null) {
      process = follow(builder, name, null);
    } else {
      cgroups.put(name, cgroup);
      process = follow(builder, name, pid -> cgroup.checkMember(pid));
    }
    latest.put(name, process);
    devices.put(name, process);
  }

  /**
   * Whether the kernel's OOM killer killed {@code device}'s lost {@code process} (null off the lab), read
   * once the process is gone.
   */
  private JsonElement oomKilled(String device, Process process) {
    DeviceCgroup cgroup = cgroups.get(device);
    if (cgroup == null) {
      return JsonNull.INSTANCE;
    }
    awaitGone(process);
    return new com.google.gson.JsonPrimitive(cgroup.oomKills() > 0);
  }

  /** Once the device's latest process is gone, records what the kernel charged it and closes its cgroups. */
  private void retire(String device) {
    DeviceCgroup cgroup = cgroups.remove(device);
    if (cgroup == null) {
      return;
    }
    awaitGone(latest.get(device));
    LabProfile p = cgroup.profile();
    synchronized (labMeasures) {
      labMeasures.add(LabMeasure.of(cgroup, LabMeasure.kernelReserve(com.typesafe.config.ConfigFactory.load())));
    }
    cgroup.close();
  }

  static JsonObject measure(LabMeasure m) {
    JsonObject one = new JsonObject();
    one.addProperty("process", m.device());
    one.addProperty("profile", m.profile());
    one.addProperty("memoryLimitBytes", m.memoryLimitBytes());
    one.addProperty("cpuCores", m.cpuCores());
    one.addProperty("peakAnonymousBytes", m.peakAnonymousBytes());
    one.addProperty("oomKilled", m.oomKilled());
    return one;
  }

  /** Waits for a process to end; one still running after 30 s is killed. */
  private static void awaitGone(Process process) {
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  private Process startCoordinator(String jobId, boolean resume) {
    log.jobId = jobId;
    List<String> args = new ArrayList<>(List.of("--seed", seedNode.address(), "--config", config.toString()));
    if (resume) {
      args.addAll(List.of("--resume", "devices"));
    }
    ProcessBuilder builder = MeasuredJvm.builder("512m", CoordinatorProcess.class, args);
    int main = builder.command().indexOf(CoordinatorProcess.class.getName());
    builder.command().add(main, "-Ddsparse.job.id=" + jobId);
    builder.command().add(main, "-Ddsparse.job.seed=" + seed);
    if (profiles.stream().anyMatch(d -> d.lab().isPresent())) {
      // Off the lab itself, but it judges the lab devices' heartbeats as they judge each other's.
      builder.command().add(main, "-D" + LabLaunch.FAILURE_DETECTOR_PAUSE + "="
          + base.getString(LabLaunch.FAILURE_DETECTOR_PAUSE));
    }
    return follow(builder, "coordinator", null);
  }

  /**
   * Starts the process and reads its output: job events, device reports; the rest is echoed. When a
   * device is up, {@code onReady} (if any) checks it with its pid; a failed check kills the process and
   * fails the run.
   */
  private Process follow(ProcessBuilder builder, String name, java.util.function.LongConsumer onReady) {
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + name + ": " + e.getMessage(), e);
    }
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          if (onReady != null && line.startsWith("DSPARSE-DEVICE-READY ")) {
            try {
              onReady.accept(process.pid());
            } catch (UsageException e) {
              process.destroyForcibly();
              log.fail(e.getMessage());
            }
          }
          log.line(name, line);
        }
      } catch (IOException e) {
        // The process is gone.
      }
    }, "output-" + name);
    reader.setDaemon(true);
    reader.start();
    return process;
  }

  /** What the driver heard from its processes, and waits on. */
  private static final class JobLog {
    String jobId = "";
    /** Why the run cannot go on (a lab device outside its cgroups), or null. */
    String failure;
    long lastStep;
    JsonObject end;
    int devicesReady;
    final List<JsonObject> recoveries = new ArrayList<>();
    final List<Long> coordinatorLossReports = new ArrayList<>();

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
      long deadline = System.currentTimeMillis() + WAIT.toMillis() * 4;
      while (!condition.test(this)) {
        if (failure != null) {
          throw new IllegalStateException(failure);
        }
        if (end != null && condition != null && !what.equals("the job's end")) {
          throw new IllegalStateException("the job ended (" + end.get("type").getAsString() + ") before " + what);
        }
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          throw new IllegalStateException("no " + what + " within " + WAIT.multipliedBy(4));
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
      long deadline = System.currentTimeMillis() + WAIT.toMillis();
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
          throw new IllegalStateException("the job did not recover within " + WAIT);
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
}
