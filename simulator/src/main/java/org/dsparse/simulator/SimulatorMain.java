package org.dsparse.simulator;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.dsparse.actors.dashboard.Dashboard;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.training.profile.ProfileCommand;

/**
 * Entry of the simulator jar: {@code run} an experiment (the default), or {@code profile} memory.
 */
public final class SimulatorMain {
  static final String USAGE = """
      usage: java -jar simulator/target/simulator.jar [run] [--config FILE] [--processes] [--out DIR]
             java -jar simulator/target/simulator.jar profile [--help]
             java -jar simulator/target/simulator.jar --version
        run      runs the experiment of FILE (default: the embedded 3-device example) in the full-update
                 and DSparse modes and prints the comparison; writes DIR/<name>.json (DIR: results)
        --processes  one JVM per device (measures each device's memory)
        shaped links (a device's link other than loopback) need --processes and root: the simulator
        then runs again in a network namespace of its own, removed when it ends""";

  /** The experiment {@code run} runs without {@code --config}. */
  static final String EMBEDDED_EXPERIMENT = "simulation-embedded.conf";

  private SimulatorMain() {}

  public static void main(String[] args) {
    // Logging starts here, on one thread: actor systems that start at once would otherwise log while
    // SLF4J initializes, which makes it print a warning about replayed calls.
    org.slf4j.LoggerFactory.getILoggerFactory();
    org.dsparse.training.trainer.DjlDefaults.apply();
    String command = args.length > 0 && !args[0].startsWith("--") ? args[0] : "run";
    String[] rest = args.length > 0 && !args[0].startsWith("--") ? Arrays.copyOfRange(args, 1, args.length) : args;
    if (args.length == 1 && (args[0].equals("--version") || args[0].equals("version"))) {
      System.out.println(org.dsparse.core.cli.Version.of("simulator", SimulatorMain.class));
      return;
    }
    try {
      switch (command) {
        case "run" -> System.exit(run(rest, System.out));
        case "profile" -> ProfileCommand.run(rest);
        default -> throw new UsageException("unknown command '" + command + "'\n" + USAGE);
      }
      System.exit(0);
    } catch (UsageException | IllegalArgumentException e) {
      System.err.println("simulator: " + e.getMessage());
      System.exit(2);
    } catch (com.typesafe.config.ConfigException e) {
      System.err.println("simulator: config: " + e.getMessage());
      System.exit(2);
    } catch (Simulation.SimulationFailedException e) {
      System.err.println("simulator: " + e.getMessage());
      System.exit(1);
    } catch (Exception e) {
      System.err.println("simulator: unexpected failure: " + e);
      e.printStackTrace();
      System.exit(1);
    }
  }

  /** Runs an experiment, printing its progress and comparison to {@code out}; answers the exit code. */
  static int run(String[] args, java.io.PrintStream out) throws Exception {
    Flags flags = Flags.parse("run", args, Set.of("config", "out"), Set.of("processes", "help"));
    if (flags.has("help")) {
      out.println(USAGE);
      return 0;
    }
    Config config = load(flags);
    SimulationConfig simulation = SimulationConfig.read(config);
    if (flags.has("processes")) {
      simulation = simulation.withProcesses(true);
    }
    // Before any cluster, dashboard or pre-training: a broken file stops the run with one line.
    simulation.checkFiles();
    if (simulation.needsShapedLinks()) {
      simulation.checkLinks();
      if (System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
        // This JVM hosts the coordinator, so it must share the devices' namespace: run again inside.
        List<String> again = new ArrayList<>(List.of("run"));
        again.addAll(List.of(args));
        return ShapedLinks.runInOwnNamespace(SimulatorMain.class, again);
      }
    }
    Path outDir = Path.of(flags.get("out", "results"));
    Files.createDirectories(outDir);
    long start = System.nanoTime();
    Dashboard dashboard = startDashboard(config, out);
    Simulation.Outcome outcome;
    Path savedDashboard = outDir.resolve(simulation.name() + "-dashboard.html");
    try {
      outcome = new Simulation(simulation, config, outDir, out::println, dashboard == null ? e -> {} : dashboard).run();
    } finally {
      if (dashboard != null) {
        dashboard.save(savedDashboard);
        dashboard.close();
      }
    }
    SimulationReport report = new SimulationReport(simulation, outcome);
    Path file = outDir.resolve(simulation.name() + ".json");
    report.write(file);
    List<Path> plots = report.plots(outDir);
    out.println();
    out.print(report.table());
    out.printf("wrote %s in %.0f s%n", file, (System.nanoTime() - start) / 1e9);
    if (!plots.isEmpty()) {
      out.println("plots: " + plots.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(", ")));
    }
    if (dashboard != null) {
      out.println("dashboard: " + dashboard.url() + " while the run lasted; saved as " + savedDashboard
          + " (open it in a browser)");
    }
    return 0;
  }

  /** The live dashboard of the experiment's jobs, on this machine's loopback; null when turned off. */
  private static Dashboard startDashboard(Config config, java.io.PrintStream out) {
    int port = config.getInt("dsparse.dashboard.port");
    if (port < 0) {
      return null;
    }
    Dashboard dashboard = Dashboard.start("127.0.0.1", port);
    out.println("dashboard: " + dashboard.url() + " (live while the run lasts)");
    return dashboard;
  }

  /** The user's file over the defaults; a missing or malformed file is named. */
  private static Config load(Flags flags) {
    ConfigFactory.invalidateCaches();
    try {
      if (flags.get("config").isEmpty()) {
        // conf/simulation-embedded.conf, packed in the jar.
        return ConfigFactory.load(ConfigFactory.parseResources(EMBEDDED_EXPERIMENT,
            ConfigParseOptions.defaults().setAllowMissing(false)));
      }
      Path file = Path.of(flags.get("config").get());
      if (!Files.isRegularFile(file)) {
        throw new UsageException("config file " + file + " does not exist");
      }
      System.setProperty("config.file", file.toAbsolutePath().toString());
      ConfigFactory.invalidateCaches();
      return ConfigFactory.load();
    } catch (ConfigException e) {
      throw new UsageException("config: " + e.getMessage());
    }
  }
}
