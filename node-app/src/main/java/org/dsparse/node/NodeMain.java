package org.dsparse.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.dsparse.actors.dashboard.Dashboard;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.job.JobFiles;
import org.dsparse.actors.job.JobReport;
import org.dsparse.actors.job.ProgressPrinter;
import org.dsparse.actors.metrics.NodeMetrics;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.Table;
import org.dsparse.core.cli.UsageException;
import org.dsparse.training.profile.ProfileCommand;

/**
 * {@code java -jar node-app-all.jar} (or the thin node-app/target/node-app.jar beside its lib/): {@code start} one device (the default),
 * {@code submit} a job to a running cluster, or {@code profile} this machine's training memory.
 */
public final class NodeMain {
  static final String USAGE = """
      usage: java -jar node-app-all.jar [start] [options]     run a device
             java -jar node-app-all.jar submit --job FILE [options]   run a job, show progress
             java -jar node-app-all.jar profile [--help]     measure this machine's memory
             java -jar node-app-all.jar certs init|issue|list [--help]   the cluster's CA and certificates
             java -jar node-app-all.jar --version
      options:
        --config FILE        HOCON with dsparse.device / dsparse.job / pekko settings (see conf/)
        --seed-nodes LIST    host:port,host:port of nodes to join (a node listing itself starts a cluster)
        --bind HOST          address to bind and advertise (default 127.0.0.1)
        --port PORT          cluster port (default 25520; 0 picks a free one)
        --name NAME          device name (default: dsparse.device.name)
        --budget SIZE        memory budget, e.g. 512MiB or auto (default: dsparse.device.memory-budget)
        --data DIR           folder with this device's dataset files
        --tls DIR            this node's certificate folder from certs issue (dsparse.tls.dir); node-app
                             runs the cluster over mutual TLS unless dsparse.tls.enabled = off
        --job FILE           with start: also submit this job once the cluster has its devices
        --resume DIR         with the job: continue it from one epoch's checkpoints, checkpoint-dir/JOB/epoch-N
                             (each device reads its own file there); or --resume devices: from the last
                             committed step the job's devices hold, after the node that submitted it was lost
        --jvm as-is|sized    with start: sized (the default) restarts node-app once in a JVM chosen from the
                             device's RAM (the smaller of MemTotal and its cgroup limit): fixed pre-touched
                             heap, C1 only, serial GC; as-is (or DSPARSE_JVM=as-is) keeps the JVM as started.
                             A JVM started with -Xmx, -Xms or -XX:MaxRAMPercentage is kept as it is""";

  /** The flags of {@code submit}; {@code start} also takes {@code --jvm}. */
  static final Set<String> FLAGS = Set.of("config", "seed-nodes", "bind", "port", "name", "budget", "data", "job",
      "resume", "tls");
  static final Set<String> START_FLAGS = union(FLAGS, SizedJvm.FLAG);

  private NodeMain() {}

  public static void main(String[] args) {
    String command = args.length > 0 && !args[0].startsWith("--") ? args[0] : "start";
    String[] rest = args.length > 0 && !args[0].startsWith("--") ? Arrays.copyOfRange(args, 1, args.length) : args;
    if (args.length == 1 && (args[0].equals("--version") || args[0].equals("version"))) {
      System.out.println(org.dsparse.core.cli.Version.of("node-app", NodeMain.class));
      return;
    }
    if (command.equals("start")) {
      try {
        sizeJvm(args, rest);
      } catch (UsageException e) {
        System.err.println("node-app: " + e.getMessage());
        System.exit(2);
      }
    }
    // Logging starts here, on one thread: actor systems that start at once would otherwise log while
    // SLF4J initializes, which makes it print a warning about replayed calls.
    org.slf4j.LoggerFactory.getILoggerFactory();
    org.dsparse.training.trainer.DjlDefaults.apply();
    try {
      switch (command) {
        case "start" -> start(rest, false);
        case "submit" -> start(rest, true);
        case "profile" -> ProfileCommand.run(rest);
        case "certs" -> CertsCommand.run(rest, java.time.Clock.systemUTC());
        case "help", "--help" -> System.out.println(USAGE);
        default -> throw new UsageException("unknown command '" + command + "'\n" + USAGE);
      }
    } catch (UsageException | IllegalArgumentException e) {
      System.err.println("node-app: " + e.getMessage());
      System.exit(2);
    } catch (com.typesafe.config.ConfigException e) {
      // Its message names the file, line and key.
      System.err.println("node-app: config: " + e.getMessage());
      System.exit(2);
    }
  }

  /**
   * Before {@code start} does anything: runs it again in a JVM sized for this device unless this one
   * is sized already or the user keeps it (see {@link SizedJvm}); exits with the sized JVM's code.
   * The flags are checked first, so a mistyped one is one line from this JVM, not one from each.
   */
  private static void sizeJvm(String[] args, String[] rest) {
    Flags flags = Flags.parse("start", rest, START_FLAGS, Set.of("help"));
    if (flags.has("help")) {
      return;
    }
    SizedJvm.Ram ram = null;
    String ramProblem = null;
    try {
      ram = SizedJvm.ram();
    } catch (RuntimeException e) {
      ramProblem = e.getMessage();
    }
    if (ram == null && ramProblem == null) {
      ramProblem = "no /proc/meminfo";
    }
    SizedJvm.Decision decision = SizedJvm.decide(flags.get(SizedJvm.FLAG).orElse(null), System.getenv(SizedJvm.ENV),
        SizedJvm.current(NodeMain.class), ram, ramProblem, List.of(args));
    if (decision instanceof SizedJvm.Keep keep) {
      if (keep.line() != null) {
        System.err.println(keep.line());
      }
    } else if (decision instanceof SizedJvm.Relaunch relaunch) {
      System.err.println(relaunch.line());
      System.exit(SizedJvm.run(relaunch.command()));
    }
  }

  private static Set<String> union(Set<String> set, String more) {
    Set<String> all = new java.util.HashSet<>(set);
    all.add(more);
    return Set.copyOf(all);
  }

  /** This JVM's maximum heap as set ({@code MaxHeapSize}: {@code -Xmx}), in MiB. */
  static long heapMib() {
    try {
      var hotspot = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      return Long.parseLong(hotspot.getVMOption("MaxHeapSize").getValue()) >> 20;
    } catch (RuntimeException | LinkageError e) {
      return Runtime.getRuntime().maxMemory() >> 20;
    }
  }

  /**
   * Starts a node: a device, or with {@code coordinatorOnly} a node that only submits the job and
   * exits when it ends.
   */
  static void start(String[] args, boolean coordinatorOnly) {
    Flags flags = Flags.parse(coordinatorOnly ? "submit" : "start", args, coordinatorOnly ? FLAGS : START_FLAGS,
        Set.of("help"));
    if (flags.has("help")) {
      System.out.println(USAGE);
      return;
    }
    Config base = load(flags.get("config").orElse(null), "--config");
    if (flags.has("job")) {
      base = load(flags.get("job").get(), "--job").withFallback(base);
    }
    if (flags.has("resume")) {
      if (!flags.has("job")) {
        throw new UsageException("--resume needs --job FILE: the job to continue");
      }
      base = base.withValue("dsparse.job.resume-from", ConfigValueFactory.fromAnyRef(flags.get("resume").get()));
    }
    if (flags.has("data")) {
      base = base.withValue("dsparse.device.data-dir", ConfigValueFactory.fromAnyRef(flags.get("data").get()));
    }
    if (flags.has("tls")) {
      base = base.withValue("dsparse.tls.dir", ConfigValueFactory.fromAnyRef(flags.get("tls").get()));
    }
    String host = flags.get("bind", "127.0.0.1");
    int port = flags.getInt("port", 25520);
    List<String> seeds = seedNodes(flags.get("seed-nodes", host + ":" + port));
    String name = flags.get("name", base.getString("dsparse.device.name"));
    String budget = flags.get("budget", base.getString("dsparse.device.memory-budget"));
    Config config = NodeConfig.node(base, name, host, port, seeds, budget, true);
    // Read before the node starts: a bad value stops it with one line, not with the errors of a
    // cluster torn down while it was still starting.
    int configuredMetricsPort = config.getInt("dsparse.metrics.port");
    if (coordinatorOnly) {
      // It usually shares its machine with a device, which serves on the configured port.
      config = config.withValue("dsparse.metrics.port", ConfigValueFactory.fromAnyRef(0));
      configuredMetricsPort = 0;
    }
    if (coordinatorOnly && !flags.has("job")) {
      throw new UsageException("submit needs --job FILE");
    }
    if (coordinatorOnly && flags.has("data")) {
      throw new UsageException("submit --data " + flags.get("data").get() + ": a submitting node reads no data of its"
          + " own; the job's dataset is dsparse.job.data, a device's folder is start --data");
    }
    if (!coordinatorOnly) {
      checkDataDir(config.getString("dsparse.device.data-dir"), flags.has("data"));
    }
    JobConfig job = flags.has("job") ? JobConfig.read(config) : null;
    if (job != null) {
      JobFiles.check(job.spec());
    }
    DsparseNode node = coordinatorOnly ? DsparseNode.startCoordinator(config) : DsparseNode.start(config);
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "node-shutdown"));
    awaitCluster(node, seeds, coordinatorOnly);
    int metricsPort = org.dsparse.actors.metrics.NodeMetrics.get(node.system()).port();
    System.err.println("node " + node.address() + " is up"
        + node.device().map(d -> ", device " + d.name() + " with " + (d.budgetBytes() >> 20) + " MiB").orElse("")
        + ", heap " + heapMib() + " MiB"
        + (metricsPort > 0 ? ", metrics at http://" + host + ":" + metricsPort + "/metrics" : "")
        // Another node of this machine has the default port: the operator's scrape config needs this one.
        + (metricsPort > 0 && configuredMetricsPort > 0 && metricsPort != configuredMetricsPort
            ? " (" + configuredMetricsPort + " is taken)" : ""));
    if (job != null) {
      Dashboard dashboard = startDashboard(node, host);
      boolean succeeded;
      try {
        succeeded = runJob(node, job, dashboard == null ? e -> {} : dashboard);
      } finally {
        if (dashboard != null) {
          saveDashboard(dashboard, job);
          dashboard.close();
        }
      }
      System.exit(succeeded ? 0 : 1);
    }
    awaitTermination(node);
  }

  /**
   * A device's data folder must be there when it starts: a job reaches it only once the cluster has
   * formed, and a missing folder would then fail the job of every device.
   */
  private static void checkDataDir(String dataDir, boolean fromFlag) {
    if (dataDir.isEmpty()) {
      return;
    }
    Path folder = Path.of(dataDir);
    String named = fromFlag ? "--data " + dataDir : "dsparse.device.data-dir = '" + dataDir + "'";
    if (!Files.exists(folder)) {
      throw new UsageException(named + ": no such folder");
    }
    if (!Files.isDirectory(folder)) {
      throw new UsageException(named + ": not a folder (name the folder that holds the dataset's files)");
    }
  }

  /** How long a submitting node waits for the cluster before it gives up. */
  static final Duration SUBMIT_JOIN_DEADLINE = Duration.ofSeconds(60);
  /** How often a device waiting for its seed nodes says so. */
  static final Duration WAITING_NOTICE = Duration.ofSeconds(30);

  /**
   * Waits until this node is Up. A submitting node gives up after {@link #SUBMIT_JOIN_DEADLINE}; a
   * device keeps trying (devices may boot before their seed node) and says every
   * {@link #WAITING_NOTICE} what it waits for.
   */
  private static void awaitCluster(DsparseNode node, List<String> seeds, boolean coordinatorOnly) {
    long started = System.nanoTime();
    while (true) {
      try {
        node.awaitUp(coordinatorOnly ? SUBMIT_JOIN_DEADLINE : WAITING_NOTICE);
        return;
      } catch (IllegalStateException e) {
        if (coordinatorOnly) {
          node.close();
          throw new UsageException("could not reach the cluster within " + SUBMIT_JOIN_DEADLINE.toSeconds()
              + " s: no seed node of " + seeds + " answered (are they running, and is this node's certificate"
              + " issued by the cluster's CA?)");
        }
        System.err.println("node-app: still waiting to join the cluster through " + seeds + " after "
            + Duration.ofNanos(System.nanoTime() - started).toSeconds() + " s; retrying (the seed node may not be"
            + " up yet; with TLS, a certificate of another CA is refused: see the log)");
      }
    }
  }

  /** The live page of the job this node submits, on dsparse.dashboard.port; null when off. */
  private static Dashboard startDashboard(DsparseNode node, String host) {
    int port = node.system().settings().config().getInt("dsparse.dashboard.port");
    if (port < 0) {
      return null;
    }
    try {
      Dashboard dashboard = Dashboard.start(node.system(), host, port);
      System.err.println("dashboard at " + dashboard.url());
      return dashboard;
    } catch (IllegalArgumentException e) {
      node.close();
      throw new UsageException(e.getMessage() + " (set another port, 0 for any free one, or -1 for none)");
    }
  }

  /** Keeps the page, with the job's events in it, beside the job's checkpoints. */
  private static void saveDashboard(Dashboard dashboard, JobConfig job) {
    if (job.spec().checkpointDir().isEmpty()) {
      return;
    }
    Path file = Path.of(job.spec().checkpointDir(), job.spec().jobId(), "dashboard.html");
    try {
      Files.createDirectories(file.getParent());
      System.err.println("dashboard saved as " + dashboard.save(file));
    } catch (java.io.IOException e) {
      System.err.println("node-app: could not save the dashboard to " + file + ": " + e.getMessage());
    }
  }

  private static boolean runJob(DsparseNode node, JobConfig job, java.util.function.Consumer<JobEvent> watcher) {
    System.err.println("submitting job " + job.spec().jobId() + " (" + job.spec().mode() + ", " + job.spec().model()
        + ") for " + job.devices() + " devices");
    try {
      JobEvent end = node.submit(job, new ProgressPrinter(System.out::println).andThen(watcher)).get();
      if (end instanceof JobEvent.Succeeded succeeded) {
        System.out.print(summary(succeeded.report()));
        return true;
      }
      return false;
    } catch (Exception e) {
      System.err.println("node-app: job interrupted: " + e.getMessage());
      return false;
    }
  }

  static String summary(JobReport report) {
    Table table = new Table("device", "budget MiB", "layers", "predicted MiB", "measured MiB", "agg ms/step",
        "compute ms/step");
    for (JobReport.DeviceReport d : report.devices()) {
      table.row(d.name(), Table.mib(d.budgetBytes()), d.updatedLayers(), Table.mib(d.predictedBytes()),
          Table.mib(d.measuredBytes()), String.format(Locale.ROOT, "%.1f", d.aggMillisPerStep()),
          String.format(Locale.ROOT, "%.1f", d.computeMillisPerStep()));
    }
    return String.format(Locale.ROOT, "job %s done: %d steps, test accuracy %.2f%%, %.1f ms/step, aggregation %.1f ms/step%n%s%s",
        report.spec().jobId(), report.steps(), 100 * report.testAccuracy(), report.stepMillis(),
        report.aggMillisPerStep(), table, report.checkpoints().isEmpty() ? ""
            : "checkpoints: " + String.join(", ", report.checkpoints()) + "\n");
  }

  private static void awaitTermination(DsparseNode node) {
    CountDownLatch terminated = new CountDownLatch(1);
    node.system().getWhenTerminated().thenRun(terminated::countDown);
    try {
      terminated.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** {@code host:port} (or full {@code pekko://dsparse@host:port}) entries, comma-separated. */
  static List<String> seedNodes(String text) {
    List<String> seeds = new ArrayList<>();
    for (String part : text.split(",")) {
      String seed = part.trim();
      if (seed.isEmpty()) {
        continue;
      }
      if (!seed.startsWith("pekko://")) {
        if (!seed.matches("[^:/@\\s]+:[0-9]{1,5}")) {
          throw new UsageException("--seed-nodes: '" + seed + "' is not host:port");
        }
        seed = "pekko://" + NodeConfig.SYSTEM_NAME + "@" + seed;
      }
      seeds.add(seed);
    }
    if (seeds.isEmpty()) {
      throw new UsageException("--seed-nodes lists no node");
    }
    return seeds;
  }

  /** The libraries' defaults under node-app's own (node-app.conf: a real cluster runs over mutual TLS). */
  private static Config defaults() {
    return ConfigFactory.load(ConfigFactory.parseResources(NodeMain.class, "node-app.conf"));
  }

  private static Config load(String file, String flag) {
    if (file == null) {
      return defaults();
    }
    Path path = Path.of(file);
    if (!Files.isRegularFile(path)) {
      throw new UsageException(flag + ": " + path + " does not exist");
    }
    try {
      return ConfigFactory.parseFile(path.toFile()).withFallback(defaults()).resolve();
    } catch (ConfigException e) {
      throw new UsageException(flag + " " + path + ": " + e.getMessage());
    }
  }
}
