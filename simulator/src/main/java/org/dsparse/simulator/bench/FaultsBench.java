package org.dsparse.simulator.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
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
import org.dsparse.simulator.LabJson;
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
  /** How long the driver waits for a process to start or the job to recover (JobLog waits multiples of it). */
  static final Duration WAIT = Duration.ofMinutes(3);
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
        one.add("profile", LabJson.profile(d.lab().get()));
        cores += d.lab().get().cpuCores();
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
      if (!uninterrupted.has("testAccuracy")) {
        // Without it there is nothing to compare the faults with: say why, once, and stop.
        System.err.println("bench/faults: the uninterrupted run of seed " + seed + " did not complete: "
            + uninterrupted.get("failure").getAsString());
        System.exit(1);
      }
      JsonObject withFaults = new FaultsBench(config, gap, seed).run("faults-injected-" + seed, true);
      double a = uninterrupted.get("testAccuracy").getAsDouble();
      double b = withFaults.has("testAccuracy") ? withFaults.get("testAccuracy").getAsDouble() : Double.NaN;
      // One evaluation moves by a point or two between neighbours this early in training: the mean of
      // the last three evaluations of each run is steadier.
      double lastThree = 100 * (FaultsReport.meanOfLast(withFaults, 3) - FaultsReport.meanOfLast(uninterrupted, 3));
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
    FaultsReport.Summary summary = FaultsReport.summarize(faults);
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
    Path figure = FaultsReport.plot(faults, out.resolveSibling("faults.png"));
    for (JsonElement r : runs) {
      JsonObject run = r.getAsJsonObject();
      System.out.printf("seed %d: accuracy %.2f%% uninterrupted vs %.2f%% with faults (%+.2f points; %+.2f over the last"
          + " three evaluations)%n", run.get("seed").getAsInt(), 100 * run.get("uninterruptedAccuracy").getAsDouble(),
          100 * run.get("faultyAccuracy").getAsDouble(), run.get("accuracyDelta").getAsDouble(),
          run.get("accuracyDeltaLastThreeEvaluations").getAsDouble());
    }
    FaultsReport.table(faults).forEach(System.out::println);
    System.out.printf("faults survived %d of %d, committed steps lost %s, detection <= %.1f s, training again <= %.1f s,"
        + " accuracy delta %+.2f points (%+.2f over the last three evaluations), mean of %d seed(s); %s%n",
        summary.survived(), faults.size(), FaultsReport.known(summary.committedStepsLost(), summary.lostStepsUnknown()),
        summary.maxDetectedSeconds(), summary.maxTrainingAgainSeconds(), deltaSum / seeds, lastThreeSum / seeds, seeds,
        out);
    System.out.println("figure: " + figure);
    System.exit(0);
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
        labMeasures.forEach(m -> measures.add(LabJson.measure(m)));
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
}
