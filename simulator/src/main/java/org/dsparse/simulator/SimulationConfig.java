package org.dsparse.simulator;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobFiles;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.lab.LabProfiles;
import org.dsparse.protocol.job.JobSpec;

/**
 * An experiment as configured under {@code dsparse.simulation}, with its job under {@code dsparse.job};
 * validated before anything starts.
 *
 * @param name names the results file
 * @param processes one JVM per device (measured memory) instead of all devices in this JVM
 * @param devices the simulated devices
 * @param modes which modes to run, in order
 * @param pretrainEpochs epochs of pre-training on the held-out share; 0 for none
 * @param pretrainLearningRate its learning rate
 * @param scratch also run every mode from a fresh model when pre-training is on
 * @param variants more DSparse runs in the first setting, each with its own job settings (another
 *     refresh interval, averaging, planner), compared with the same full-update run
 * @param job the job both modes run
 * @param protocols the aggregation protocols every setting runs both modes under, each as the job with
 *     its averaging and refresh intervals and its own settings (e.g. a planner suited to it; id and
 *     initial checkpoint are replaced when it runs); empty: the job's own
 * @param timing optional timing runs of every protocol on shaped links
 * @param baselines what DSparse is also compared with in every setting and protocol (and timing run),
 *     each run after the modes
 */
public record SimulationConfig(String name, boolean processes, List<DeviceProfile> devices,
    List<JobSpec.Mode> modes, int pretrainEpochs, double pretrainLearningRate, boolean scratch,
    List<Variant> variants, JobConfig job, List<JobSpec> protocols, Timing timing, List<Baseline> baselines) {

  /**
   * Timing runs: after the others, each protocol's modes run again for {@code steps} steps from the
   * first setting's start with every device's link shaped to {@code linkBitsPerSecond} (0: none).
   * At the same protocol and seed a run trains the same whatever its links, so accuracy comes from the
   * full-length runs and these measure only time (and bytes, which do not depend on the links). Each
   * protocol runs {@code repeats} times, both modes each time (so each pair runs side by side), and
   * each mode reports its median run.
   */
  public record Timing(long linkBitsPerSecond, String link, int steps, int repeats) {
    public boolean enabled() {
      return linkBitsPerSecond > 0 && steps > 0;
    }
  }

  /** The protocols to run: the configured ones, or the job's own. */
  public List<JobSpec> protocolsToRun() {
    return protocols.isEmpty() ? List.of(job.spec()) : protocols;
  }

  /** Whether any run shapes links (the simulator then runs in a network namespace of its own). */
  public boolean needsShapedLinks() {
    return timing.enabled() || ShapedLinks.anyShaped(devices);
  }

  private static List<JobSpec> protocols(Config root, Config c) {
    List<JobSpec> protocols = new ArrayList<>();
    Set<String> names = new HashSet<>();
    int index = 0;
    for (Config p : c.getConfigList("protocols")) {
      String where = PATH + ".protocols[" + index++ + "]";
      int interval = p.hasPath("interval") ? p.getInt("interval") : 0;
      if (interval < 1) {
        throw new UsageException(where + ".interval = " + interval + ": a positive number of steps");
      }
      Config job = p.hasPath("job") ? p.getConfig("job") : com.typesafe.config.ConfigFactory.empty();
      JobSpec spec;
      try {
        spec = JobConfig.read(job.atPath("dsparse.job").withFallback(root)).spec().withProtocol(interval);
        // Refreshes follow the protocol's interval unless the protocol sets its own cadence.
        if (job.hasPath("refresh-interval")) {
          spec = spec.withRefreshInterval(job.getInt("refresh-interval"));
        }
      } catch (UsageException e) {
        throw new UsageException(where + ": " + e.getMessage());
      }
      // Results are keyed by the protocol's name (interval, and overlap of a synchronous one).
      if (!names.add(spec.protocol())) {
        throw new UsageException(where + ": protocol " + spec.protocol() + " is in the list twice");
      }
      protocols.add(spec);
    }
    return List.copyOf(protocols);
  }

  private static Timing timing(Config c) {
    Config t = c.getConfig("timing");
    String link = t.getString("link");
    long bits = LinkRate.parse(PATH + ".timing.link", link);
    int steps = t.getInt("steps");
    if (steps < 0) {
      throw new UsageException(PATH + ".timing.steps = " + steps + ": must not be negative");
    }
    int repeats = t.getInt("repeats");
    if (repeats < 1) {
      throw new UsageException(PATH + ".timing.repeats = " + repeats + ": at least 1");
    }
    return new Timing(bits, link, steps, repeats);
  }

  /** The baselines; each is compared with DSparse's run of its setting and protocol, which must run. */
  private static List<Baseline> baselines(Config c, List<JobSpec.Mode> modes) {
    String where = PATH + ".baselines";
    List<String> names;
    try {
      names = c.getStringList("baselines");
    } catch (ConfigException.WrongType e) {
      throw new UsageException(where + ": expected a list of full-where-fits and uniform-tail, got "
          + c.getValue("baselines").render(com.typesafe.config.ConfigRenderOptions.concise()));
    }
    List<Baseline> baselines = Baseline.parseAll(names, where);
    if (!baselines.isEmpty() && !modes.contains(JobSpec.Mode.DSPARSE)) {
      throw new UsageException(where + " = " + baselines.stream().map(Baseline::key).toList() + ": each is compared"
          + " with DSparse's run of the same setting and protocol, and " + PATH + ".modes has no dsparse");
    }
    return baselines;
  }

  /** A DSparse run with job settings of its own; {@code spec}'s id is replaced when it runs. */
  public record Variant(String name, JobSpec spec) {}

  private static final String PATH = "dsparse.simulation";

  private static List<Variant> variants(Config root, Config c) {
    List<Variant> variants = new ArrayList<>();
    Set<String> names = new HashSet<>();
    int index = 0;
    for (Config v : c.getConfigList("variants")) {
      String where = PATH + ".variants[" + index++ + "]";
      String name = v.hasPath("name") ? v.getString("name") : "";
      if (!name.matches("[A-Za-z0-9_.-]+") || !names.add(name)) {
        throw new UsageException(where + ".name = '" + name + "': a unique name of letters, digits, '_', '.', '-'");
      }
      Config job = v.hasPath("job") ? v.getConfig("job") : com.typesafe.config.ConfigFactory.empty();
      try {
        variants.add(new Variant(name, JobConfig.read(job.atPath("dsparse.job").withFallback(root)).spec()));
      } catch (UsageException e) {
        throw new UsageException(where + " (" + name + "): " + e.getMessage());
      }
    }
    return List.copyOf(variants);
  }

  /** The same experiment with one JVM per device or not. */
  public SimulationConfig withProcesses(boolean on) {
    return new SimulationConfig(name, on, devices, modes, pretrainEpochs, pretrainLearningRate, scratch,
        variants, job, protocols, timing, baselines);
  }

  /**
   * The files the experiment names, checked as {@link JobFiles} checks a submitted job's, before
   * anything starts: the job's dataset (both splits, read whole) and initial checkpoint, and the dataset
   * of a variant or protocol that reads another one. Each problem is one {@link UsageException}.
   */
  public void checkFiles() {
    JobFiles.check(job.spec());
    Set<String> checked = new HashSet<>(Set.of(job.spec().data()));
    for (int i = 0; i < variants.size(); i++) {
      checkData(PATH + ".variants[" + i + "] (" + variants.get(i).name() + ")", variants.get(i).spec(), checked);
    }
    for (int i = 0; i < protocols.size(); i++) {
      checkData(PATH + ".protocols[" + i + "]", protocols.get(i), checked);
    }
  }

  private static void checkData(String where, JobSpec spec, Set<String> checked) {
    if (!checked.add(spec.data())) {
      return;
    }
    try {
      // Its starting point is the job's, checked with the job.
      JobFiles.check(spec.withInitialCheckpoint(""));
    } catch (UsageException e) {
      throw new UsageException(where + ": " + e.getMessage());
    }
  }

  /**
   * Shaped links need one JVM per device, each on its own address. Checked when the experiment
   * starts, not in {@link #read}, because {@code --processes} may switch processes on after reading.
   */
  public void checkLinks() {
    if (processes) {
      return;
    }
    for (int i = 0; i < devices.size(); i++) {
      if (devices.get(i).lab().isPresent()) {
        throw new UsageException(PATH + ".devices[" + i + "].profile (" + devices.get(i).name() + "): a lab device"
            + " is a process the kernel limits: set " + PATH + ".processes = true (or --processes)");
      }
    }
    if (timing.enabled()) {
      throw new UsageException(PATH + ".timing.link = " + timing.link() + ": timing on shaped links needs one JVM"
          + " per device: set " + PATH + ".processes = true (or --processes), or timing.link = loopback");
    }
    for (int i = 0; i < devices.size(); i++) {
      if (devices.get(i).linkBitsPerSecond() > 0) {
        throw new UsageException(PATH + ".devices[" + i + "].link (" + devices.get(i).name()
            + "): a shaped link needs one JVM per device: set " + PATH + ".processes = true (or --processes),"
            + " or link = loopback");
      }
    }
  }

  private static final Config REFERENCE = com.typesafe.config.ConfigFactory.defaultReference();
  private static final Set<String> DEVICE_KEYS = Set.of("name", "budget", "compute-slowdown", "link", "profile");

  /** One entry of {@code devices}: every error names the entry's key ({@code where.budget (name)}). */
  private static DeviceProfile device(Config d, Config defaults, String where, Set<String> names) {
    unknownKeys(d.root().keySet(), DEVICE_KEYS, where);
    Config withDefaults = d.withFallback(defaults);
    if (!withDefaults.hasPath("name")) {
      throw new UsageException(where + ".name: missing; every device needs a unique name");
    }
    String deviceName = string(withDefaults, "name", where + ".name");
    if (!deviceName.matches("[A-Za-z0-9_.-]+")) {
      throw new UsageException(where + ".name = '" + deviceName + "': use letters, digits, '_', '.', '-'");
    }
    if (!names.add(deviceName)) {
      throw new UsageException(where + ".name = '" + deviceName + "': the name is used twice");
    }
    String slowdownKey = key(d, where, "compute-slowdown", deviceName);
    double slowdown;
    try {
      slowdown = withDefaults.getDouble("compute-slowdown");
    } catch (ConfigException.WrongType e) {
      throw new UsageException(slowdownKey + " = '" + withDefaults.getValue("compute-slowdown").unwrapped()
          + "': expected a number, at least 1");
    }
    if (!(slowdown >= 1)) {
      throw new UsageException(slowdownKey + " = " + slowdown + ": must be at least 1");
    }
    String budgetKey = key(d, where, "budget", deviceName);
    String linkKey = key(d, where, "link", deviceName);
    String profileKey = key(d, where, "profile", deviceName);
    if (withDefaults.getValue("profile").valueType() == com.typesafe.config.ConfigValueType.OBJECT) {
      return labDevice(d, where, deviceName, customProfile(withDefaults.getConfig("profile"), profileKey, deviceName),
          slowdown, linkKey);
    }
    String profileName = string(withDefaults, "profile", profileKey).trim();
    if (!profileName.isEmpty()) {
      return labDevice(d, where, deviceName, LabProfiles.named(profileName, profileKey), slowdown, linkKey);
    }
    if (string(withDefaults, "budget", budgetKey).trim().equalsIgnoreCase(DeviceProfile.AUTO)) {
      throw new UsageException(budgetKey + " = auto: only a lab device (profile = ...) finds its own budget;"
          + " give a size or a percentage");
    }
    DeviceProfile device = new DeviceProfile(deviceName, string(withDefaults, "budget", budgetKey), slowdown,
        LinkRate.parse(linkKey, string(withDefaults, "link", linkKey)));
    // A percentage resolves when the model is known; its form is checked now, before anything starts.
    device.budgetBytes(1L << 30, budgetKey);
    return device;
  }

  /**
   * A device the kernel holds to a board's RAM and CPU share (the lab): its budget is what its process
   * finds it has left, its link the board's unless it sets one, and it cannot also be slowed down in
   * software.
   */
  private static DeviceProfile labDevice(Config d, String where, String name, LabProfile lab, double slowdown,
      String linkKey) {
    String profileName = lab.name();
    if (d.hasPath("budget")) {
      throw new UsageException(where + ".budget (" + name + "): a lab device's budget is what its RAM leaves"
          + " after its JVM; drop budget, or drop profile = " + profileName);
    }
    if (slowdown != 1) {
      throw new UsageException(where + ".compute-slowdown (" + name + "): a lab device's speed is its CPU quota"
          + " (profile " + profileName + "); drop compute-slowdown");
    }
    long link = d.hasPath("link") ? LinkRate.parse(linkKey, d.getString("link")) : lab.linkBitsPerSecond();
    return new DeviceProfile(name, DeviceProfile.AUTO, 1, link, java.util.Optional.of(lab));
  }

  private static final Set<String> PROFILE_KEYS = Set.of("memory", "cpu", "link");

  /**
   * A board of the user's own: {@code profile { memory = 512MiB, cpu = 0.3, link = 50mbit }} (memory:
   * the whole process's limit; cpu: its share of a core; link: as device links are written).
   */
  private static LabProfile customProfile(Config p, String where, String device) {
    unknownKeys(p.root().keySet(), PROFILE_KEYS, where);
    for (String key : PROFILE_KEYS) {
      if (!p.hasPath(key)) {
        throw new UsageException(where + "." + key + ": missing; a profile of your own gives memory, cpu and link");
      }
    }
    long memory = org.dsparse.core.cli.Flags.parseBytes(where + ".memory", p.getString("memory"));
    double cpu;
    try {
      cpu = p.getDouble("cpu");
    } catch (ConfigException.WrongType e) {
      throw new UsageException(where + ".cpu = '" + p.getValue("cpu").unwrapped() + "': expected a share of a core");
    }
    if (!(cpu >= 0.01 && cpu <= 64)) {
      throw new UsageException(where + ".cpu = " + cpu + ": a share of a core between 0.01 and 64");
    }
    if (memory < (256L << 20)) {
      throw new UsageException(where + ".memory = " + p.getString("memory") + ": below 256 MiB no JVM of a device"
          + " starts (heap " + (org.dsparse.core.lab.JvmSizing.MIN_HEAP >> 20) + " MiB, Pekko, PyTorch)");
    }
    long link = LinkRate.parse(where + ".link", p.getString("link"));
    return new LabProfile(device + "-own", "a board of the user's", memory, cpu, link, cpu / LabProfiles.CORES_PER_SPEED);
  }

  /** Whether any device runs under a lab profile (its own cgroups: needs processes and root). */
  public boolean anyLab() {
    return devices.stream().anyMatch(d -> d.lab().isPresent());
  }

  /** Where a device's setting was written: its own entry, or device-defaults when it sets none. */
  private static String key(Config device, String where, String key, String name) {
    return device.hasPath(key) ? where + "." + key + " (" + name + ")"
        : PATH + ".device-defaults." + key + " (for " + name + ")";
  }

  private static String string(Config c, String key, String where) {
    try {
      return c.getString(key);
    } catch (ConfigException.WrongType e) {
      throw new UsageException(where + ": expected a single value, got " + c.getValue(key).valueType()
          .name().toLowerCase(Locale.ROOT));
    }
  }

  /** A key nobody reads is a setting that would be dropped unsaid (usually a misspelt one). */
  private static void unknownKeys(Set<String> given, Set<String> known, String where) {
    List<String> unknown = given.stream().filter(k -> !known.contains(k)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new UsageException(where + ": unknown key" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown)
          + "; expected " + String.join(", ", known.stream().sorted().toList()));
    }
  }

  /** Tile group members named in {@code job} must be devices of the experiment. */
  private static void checkTiling(String where, JobSpec job, Set<String> devices) {
    List<String> members = job.tiling().devices();
    List<String> unknown = members.stream().filter(m -> !devices.contains(m)).toList();
    if (!unknown.isEmpty()) {
      throw new UsageException(where + ".tiling.devices = " + members + ": " + String.join(", ", unknown)
          + (unknown.size() > 1 ? " are not devices" : " is not a device") + " of this simulation (devices: "
          + String.join(", ", devices.stream().sorted().toList()) + ")");
    }
    if (members.isEmpty() && job.tiling().count() > devices.size()) {
      throw new UsageException(where + ".tiling.count = " + job.tiling().count() + ": this simulation has only "
          + devices.size() + " devices");
    }
  }

  /** A variant or protocol starts where the job does: a starting checkpoint of its own would be dropped. */
  private static void sameStart(String key, JobSpec spec, String initial) {
    if (!spec.initialCheckpoint().equals(initial)) {
      throw new UsageException(key + " = '" + spec.initialCheckpoint() + "': every run of"
          + " a setting starts from the same point (dsparse.job.initial-checkpoint, or the pre-trained checkpoint);"
          + " set it on dsparse.job instead");
    }
  }

  /**
   * The devices of {@code simulation} (the {@code dsparse.simulation} block, reference defaults beneath):
   * each entry over {@code device-defaults}, checked as {@link #read} checks them. For the benches that
   * start their device processes themselves.
   */
  public static List<DeviceProfile> devices(Config simulation) {
    try {
      unknownKeys(simulation.getConfig("device-defaults").root().keySet(), DEVICE_KEYS, PATH + ".device-defaults");
      List<DeviceProfile> devices = new ArrayList<>();
      Set<String> names = new HashSet<>();
      int index = 0;
      for (Config d : simulation.getConfigList("devices")) {
        devices.add(device(d, simulation.getConfig("device-defaults"), PATH + ".devices[" + index++ + "]", names));
      }
      if (devices.isEmpty()) {
        throw new UsageException(PATH + ".devices is empty: an experiment needs at least one device");
      }
      return List.copyOf(devices);
    } catch (ConfigException e) {
      throw new UsageException("simulation configuration: " + e.getMessage());
    }
  }

  /**
   * A lab profile written at {@code c}'s {@code key} as a device's is: a catalogue name, or a board of the
   * user's own ({@code { memory, cpu, link }}, called {@code <owner>-own}); empty when absent or "".
   *
   * @param where the key's full path, for errors
   */
  public static java.util.Optional<LabProfile> labProfile(Config c, String key, String where, String owner) {
    if (!c.hasPath(key)) {
      return java.util.Optional.empty();
    }
    if (c.getValue(key).valueType() == com.typesafe.config.ConfigValueType.OBJECT) {
      return java.util.Optional.of(customProfile(c.getConfig(key), where, owner));
    }
    String name = string(c, key, where).trim();
    return name.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(LabProfiles.named(name, where));
  }

  public static SimulationConfig read(Config root) {
    JobConfig job = JobConfig.read(root);
    Config c = root.getConfig(PATH);
    try {
      String name = c.getString("name");
      if (!name.matches("[A-Za-z0-9_.-]+")) {
        throw new UsageException(PATH + ".name = '" + name + "': use letters, digits, '_', '.', '-'");
      }
      unknownKeys(c.root().keySet(), REFERENCE.getConfig(PATH).root().keySet(), PATH);
      List<DeviceProfile> devices = devices(c);
      Set<String> names = new HashSet<>(devices.stream().map(DeviceProfile::name).toList());
      List<JobSpec.Mode> modes = new ArrayList<>();
      for (String mode : c.getStringList("modes")) {
        try {
          modes.add(JobSpec.Mode.valueOf(mode.trim().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new UsageException(PATH + ".modes: '" + mode + "' is neither full nor dsparse");
        }
      }
      int pretrainEpochs = c.getInt("pretrain.epochs");
      if (pretrainEpochs < 0) {
        throw new UsageException(PATH + ".pretrain.epochs must not be negative");
      }
      if (pretrainEpochs > 0 && job.spec().heldOutFraction() <= 0) {
        throw new UsageException(PATH + ".pretrain.epochs = " + pretrainEpochs
            + " needs dsparse.job.held-out-fraction above 0: pre-training uses that share of the data");
      }
      String initial = job.spec().initialCheckpoint();
      if (pretrainEpochs > 0 && !initial.isEmpty()) {
        // Pre-training makes the starting point: the user's checkpoint would be dropped unsaid.
        throw new UsageException(PATH + ".pretrain.epochs = " + pretrainEpochs + " and dsparse.job.initial-checkpoint"
            + " = '" + initial + "' cannot both be set: pre-training makes the runs' starting checkpoint, which would"
            + " replace the file; set pretrain.epochs = 0 to start from the file, or remove initial-checkpoint");
      }
      checkTiling("dsparse.job", job.spec(), names);
      List<Variant> variants = variants(root, c);
      for (int i = 0; i < variants.size(); i++) {
        String where = PATH + ".variants[" + i + "]";
        String variant = " (" + variants.get(i).name() + ")";
        sameStart(where + ".job.initial-checkpoint" + variant, variants.get(i).spec(), initial);
        checkTiling(where + variant + ": dsparse.job", variants.get(i).spec(), names);
      }
      List<JobSpec> protocols = protocols(root, c);
      for (int i = 0; i < protocols.size(); i++) {
        String where = PATH + ".protocols[" + i + "]";
        sameStart(where + ".job.initial-checkpoint", protocols.get(i), initial);
        checkTiling(where + ": dsparse.job", protocols.get(i), names);
      }
      return new SimulationConfig(name, c.getBoolean("processes"), List.copyOf(devices), List.copyOf(modes),
          pretrainEpochs, c.getDouble("pretrain.learning-rate"), c.getBoolean("scratch"),
          variants, job.with(job.spec(), devices.size()), protocols, timing(c), baselines(c, modes));
    } catch (ConfigException e) {
      throw new UsageException("simulation configuration: " + e.getMessage());
    }
  }
}
