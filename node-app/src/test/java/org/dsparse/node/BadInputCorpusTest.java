package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.dsparse.actors.tls.ClusterCertificates;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input at node-app's edges, each run as a user would, in a JVM of its own: the program must stop
 * with a non-zero exit and one line that names the flag, key or file and what is wrong, and print no
 * stack trace, before it joins a cluster or waits on anything.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputCorpusTest {
  /**
   * The JVMs run as node-app's sized JVM does, so that {@code start} does not start itself again in a
   * larger one (SizedJvmTest checks that) and the only {@code node-app:} line is the error.
   */
  private static final String SIZED = "-D" + org.dsparse.core.lab.JvmSizing.CHOSEN_PROPERTY + "=true";
  private static final Pattern STACK_TRACE = Pattern.compile("(?m)^\\s+at \\S+\\(|^Caused by: |^Exception in thread ");

  @TempDir
  static Path dir;

  /** One bad input: the arguments, and a fragment the one line must contain. */
  record Case(String name, List<String> args, String expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Path file(String name, String text) throws IOException {
    Path file = dir.resolve(name);
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
    return file;
  }

  /** A job file: a small valid job with {@code change} applied. */
  private static String job(String name, String change) throws IOException {
    return file("jobs/" + name + ".conf", "dsparse.job { model = small-cnn, devices = 2 }\n"
        + "dsparse.tls.enabled = off\n" + change + "\n").toString();
  }

  @BeforeAll
  void certificates() throws IOException {
    Clock now = Clock.systemUTC();
    Path certs = dir.resolve("certs");
    ClusterCertificates.initCa(certs, "lab", Duration.ofDays(100), now);
    ClusterCertificates.issue(certs, "a", Duration.ofDays(10), now);
    ClusterCertificates.issue(certs, "b", Duration.ofDays(10), now);
    ClusterCertificates.issue(certs, "old", Duration.ofDays(1), Clock.fixed(Instant.now().minus(Duration.ofDays(5)),
        ZoneOffset.UTC));
    Path swapped = certs.resolve("swapped");
    Files.createDirectories(swapped);
    for (String f : List.of(ClusterCertificates.CERT, ClusterCertificates.CA_CERT)) {
      Files.copy(certs.resolve("a").resolve(f), swapped.resolve(f));
    }
    Files.copy(certs.resolve("b").resolve(ClusterCertificates.KEY), swapped.resolve(ClusterCertificates.KEY));
    Path garbage = certs.resolve("garbage");
    Files.createDirectories(garbage);
    Files.writeString(garbage.resolve(ClusterCertificates.CERT), "-----BEGIN CERTIFICATE-----\nnot base64\n");
    Files.copy(certs.resolve("a").resolve(ClusterCertificates.KEY), garbage.resolve(ClusterCertificates.KEY));
    Files.copy(certs.resolve("a").resolve(ClusterCertificates.CA_CERT), garbage.resolve(ClusterCertificates.CA_CERT));
  }

  List<Case> cases() throws IOException {
    String certs = dir.resolve("certs").toString();
    String open = file("open.conf", "dsparse.tls.enabled = off\n").toString();
    List<Case> cases = new ArrayList<>();
    // Flags.
    cases.add(new Case("unknown flag", List.of("start", "--bogus", "1"), "--bogus"));
    cases.add(new Case("port not a number", List.of("start", "--port", "x"), "--port"));
    cases.add(new Case("port out of range", List.of("start", "--config", open, "--port", "70000"), "70000"));
    cases.add(new Case("budget not a size", List.of("start", "--config", open, "--budget", "lots"), "memory-budget"));
    cases.add(new Case("seed without port", List.of("start", "--seed-nodes", "pi4"), "'pi4' is not host:port"));
    cases.add(new Case("flag without value", List.of("start", "--name"), "--name"));
    cases.add(new Case("jvm choice unknown", List.of("start", "--jvm", "big"), "--jvm 'big': expected sized"));
    cases.add(new Case("jvm flag given to submit", List.of("submit", "--jvm", "as-is"), "submit: unknown flag --jvm"));
    cases.add(new Case("unknown command", List.of("frobnicate"), "unknown command 'frobnicate'"));
    cases.add(new Case("submit without job", List.of("submit", "--config", open), "submit needs --job"));
    cases.add(new Case("resume without job", List.of("start", "--resume", "x"), "--resume needs --job"));
    // Files named by flags.
    cases.add(new Case("config missing", List.of("start", "--config", "/nonexistent.conf"), "/nonexistent.conf"));
    cases.add(new Case("config not HOCON", List.of("start", "--config", file("broken.conf", "dsparse.job { epochs = ")
        .toString()), "broken.conf"));
    cases.add(new Case("job missing", List.of("submit", "--job", "/nonexistent-job.conf"), "/nonexistent-job.conf"));
    // HOCON keys.
    cases.add(new Case("epochs negative", List.of("submit", "--job", job("epochs", "dsparse.job.epochs = -1")),
        "dsparse.job.epochs"));
    cases.add(new Case("unknown model", List.of("submit", "--job", job("model", "dsparse.job.model = resnet999")),
        "resnet999"));
    cases.add(new Case("batch zero", List.of("submit", "--job", job("batch", "dsparse.job.batch = 0")),
        "dsparse.job.batch"));
    cases.add(new Case("learning rate a word", List.of("submit", "--job", job("lr", "dsparse.job.learning-rate = fast")),
        "learning-rate"));
    cases.add(new Case("devices zero", List.of("submit", "--job", job("devices", "dsparse.job.devices = 0")),
        "dsparse.job.devices"));
    cases.add(new Case("unknown data source", List.of("submit", "--job", job("data", "dsparse.job.data = \"mnist-9\"")),
        "dsparse.job.data"));
    cases.add(new Case("unknown optimizer", List.of("submit", "--job", job("opt", "dsparse.job.optimizer = lbfgs")),
        "optimizer"));
    cases.add(new Case("unknown transport", List.of("submit", "--job", job("transport",
        "dsparse.collective.transport = udp")), "dsparse.collective.transport"));
    cases.add(new Case("budget in parsecs", List.of("start", "--config", file("parsecs.conf",
        "dsparse.tls.enabled = off\ndsparse.device.memory-budget = \"12 parsecs\"\n").toString()), "memory-budget"));
    cases.add(new Case("tls switch a word", List.of("start", "--config", file("tlsword.conf",
        "dsparse.tls.enabled = maybe\n").toString()), "dsparse.tls.enabled"));
    cases.add(new Case("metrics port a word", List.of("start", "--config", file("metrics.conf",
        "dsparse.tls.enabled = off\ndsparse.metrics.port = nine\n").toString()), "dsparse.metrics.port"));
    cases.add(new Case("refresh interval zero", List.of("submit", "--job", job("refresh",
        "dsparse.job.refresh-interval = 0")), "refresh-interval"));
    cases.add(new Case("unknown compressor", List.of("submit", "--job", job("zip",
        "dsparse.job.compression.kind = zip")), "dsparse.job.compression.kind"));
    cases.add(new Case("compression ratio 1", List.of("submit", "--job", job("ratio",
        "dsparse.job.compression { kind = sketch, ratio = 1 }")), "dsparse.job.compression.ratio"));
    cases.add(new Case("sketch of 16 rows", List.of("submit", "--job", job("rows",
        "dsparse.job.compression { kind = sketch, rows = 16 }")), "dsparse.job.compression.rows"));
    cases.add(new Case("compression with periodic averaging", List.of("submit", "--job", job("periodic",
        "dsparse.job { averaging-interval = 5, compression.kind = topk }")), "averaging-interval"));
    // The job's files, checked by submit before it joins anything.
    cases.add(new Case("initial checkpoint missing", List.of("submit", "--job", job("ckptmissing",
        "dsparse.job.initial-checkpoint = \"/nonexistent-initial.ckpt\"")), "/nonexistent-initial.ckpt"));
    cases.add(new Case("initial checkpoint not a checkpoint", List.of("submit", "--job", job("ckptgarbage",
        "dsparse.job.initial-checkpoint = \"" + file("garbage.ckpt", "not a checkpoint at all") + "\"")),
        "garbage.ckpt"));
    Files.createDirectories(dir.resolve("empty-data"));
    cases.add(new Case("data folder without the dataset", List.of("submit", "--job", job("nodata",
        "dsparse.job.data = \"fashion-mnist:" + dir.resolve("empty-data") + "\"")), "dsparse.job.data"));
    cases.add(new Case("resume from a missing directory", List.of("submit", "--job", job("resume",
        "dsparse.job.resume-from = \"/nonexistent-epoch-3\"")), "resume-from"));
    // A device's data folder, checked when it starts, before it waits for the cluster.
    cases.add(new Case("data folder missing", List.of("start", "--config", open, "--data", "/nonexistent/dir"),
        "--data /nonexistent/dir: no such folder"));
    cases.add(new Case("data folder a file", List.of("start", "--config", open, "--data", open), "--data " + open
        + ": not a folder"));
    cases.add(new Case("data folder in config missing", List.of("start", "--config", file("datadir.conf",
        "dsparse.tls.enabled = off\ndsparse.device.data-dir = \"/nonexistent/data\"\n").toString()),
        "dsparse.device.data-dir = '/nonexistent/data'"));
    cases.add(new Case("data folder given to submit", List.of("submit", "--job", job("submitdata", ""), "--data",
        dir.toString()), "submit --data"));
    // Certificates.
    cases.add(new Case("tls on without folder", List.of("start"), "dsparse.tls.dir"));
    cases.add(new Case("tls folder missing", List.of("start", "--tls", "/nonexistent-tls"), "/nonexistent-tls/tls.crt"));
    cases.add(new Case("certificate garbage", List.of("start", "--tls", certs + "/garbage"), "garbage/tls.crt"));
    cases.add(new Case("key of another node", List.of("start", "--tls", certs + "/swapped"), "is not the private key"));
    cases.add(new Case("certificate expired", List.of("start", "--tls", certs + "/old"), "expired"));
    cases.add(new Case("issue without CA", List.of("certs", "issue", "--dir", dir.resolve("no-ca").toString(), "--name",
        "x"), "certs init"));
    cases.add(new Case("cluster name with spaces", List.of("certs", "init", "--dir", dir.resolve("ca2").toString(),
        "--cluster", "My Lab"), "--cluster"));
    cases.add(new Case("certificate of zero days", List.of("certs", "issue", "--dir", certs, "--name", "z", "--days",
        "0"), "--days"));
    cases.add(new Case("second CA in a folder", List.of("certs", "init", "--dir", certs), "has a CA already"));
    cases.add(new Case("list a missing folder", List.of("certs", "list", "--dir", "/nonexistent-certs"),
        "is not a folder"));
    // The memory profiler.
    cases.add(new Case("profile batch a word", List.of("profile", "--batch", "x"), "--batch"));
    cases.add(new Case("profile unknown model", List.of("profile", "--model", "nope"), "nope"));
    return cases;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void badInputStopsWithOneLineNamingIt(Case input) throws Exception {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-Dlogback.configurationFile=" + Path.of("..", ".mvn", "logback-test.xml").toAbsolutePath().normalize(),
        SIZED, "-cp", classpath, NodeMain.class.getName()));
    command.addAll(input.args());
    Process process = new ProcessBuilder(command).redirectErrorStream(true).directory(dir.toFile()).start();
    boolean ended = process.waitFor(60, TimeUnit.SECONDS);
    if (!ended) {
      process.destroyForcibly().waitFor();
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(ended, input + ": still running after 60 s (it must stop before waiting on anything):\n" + output);
    assertTrue(process.exitValue() != 0, input + ": exit 0\n" + output);
    assertTrue(!STACK_TRACE.matcher(output).find(), input + ": a stack trace\n" + output);
    List<String> lines = output.lines().filter(l -> l.startsWith("node-app: ")).toList();
    assertTrue(lines.size() == 1 && lines.get(0).contains(input.expected()),
        input + ": expected one line naming '" + input.expected() + "'\n" + output);
  }

  // Two nodes on one machine: the default metrics port gives way, a configured one does not.

  /**
   * A second {@code node-app start} on the machine, the way people try the system before deploying:
   * the default metrics port (9464) is the first node's, so the second serves on another and says which
   * in its start-up line; a metrics port the operator configured that is taken stops the node with one
   * line naming the port and the key, a non-zero exit and no logged error after it.
   */
  @Test
  void aSecondNodeOnTheMachineTakesAnotherMetricsPortUnlessOneIsConfigured() throws Exception {
    String open = file("two-nodes/open.conf", "dsparse.tls.enabled = off\n").toString();
    int firstPort = freePort();
    RunningNode first = RunningNode.start(List.of("start", "--config", open, "--port", String.valueOf(firstPort),
        "--name", "first", "--budget", "256MiB"));
    try {
      int firstMetrics = metricsPortOf(first.awaitLine(" is up"));
      RunningNode second = RunningNode.start(List.of("start", "--config", open, "--port", String.valueOf(freePort()),
          "--seed-nodes", "127.0.0.1:" + firstPort, "--name", "second", "--budget", "256MiB"));
      try {
        String up = second.awaitLine(" is up");
        int secondMetrics = metricsPortOf(up);
        assertTrue(secondMetrics > 0 && secondMetrics != firstMetrics, up);
        assertTrue(!second.output().contains(" ERROR "), "an error logged:\n" + second.output());
      } finally {
        second.stop();
      }
      String taken = file("two-nodes/taken.conf", "dsparse.tls.enabled = off\ndsparse.metrics.port = " + firstMetrics
          + "\n").toString();
      RunningNode third = RunningNode.start(List.of("start", "--config", taken, "--port", String.valueOf(freePort()),
          "--seed-nodes", "127.0.0.1:" + firstPort, "--name", "third", "--budget", "256MiB"));
      boolean ended = third.process.waitFor(60, TimeUnit.SECONDS);
      third.stop();
      String output = third.output();
      assertTrue(ended, "still running after 60 s on a taken metrics port:\n" + output);
      assertTrue(third.process.exitValue() != 0, "exit 0\n" + output);
      assertTrue(!STACK_TRACE.matcher(output).find() && !output.contains(" ERROR "), "an error or stack trace\n"
          + output);
      List<String> lines = output.lines().filter(l -> l.startsWith("node-app: ")).toList();
      assertTrue(lines.size() == 1 && lines.get(0).contains("dsparse.metrics.port")
          && lines.get(0).contains(":" + firstMetrics), "one line naming the key and the port\n" + output);
    } finally {
      first.stop();
    }
  }

  /** The metrics port a start-up line names ({@code ..., metrics at http://127.0.0.1:9464/metrics}). */
  private static int metricsPortOf(String upLine) {
    java.util.regex.Matcher m = Pattern.compile("metrics at http://[^:]+:(\\d+)/metrics").matcher(upLine);
    assertTrue(m.find(), "no metrics address in: " + upLine);
    return Integer.parseInt(m.group(1));
  }

  private static int freePort() throws IOException {
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      return free.getLocalPort();
    }
  }

  /** A node-app in a JVM of its own whose output is collected as it comes. */
  private record RunningNode(Process process, StringBuffer out, Thread reader) {
    static RunningNode start(List<String> args) throws IOException {
      String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
      List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
          "-Dlogback.configurationFile=" + Path.of("..", ".mvn", "logback-test.xml").toAbsolutePath().normalize(),
          SIZED, "-cp", classpath, NodeMain.class.getName()));
      command.addAll(args);
      Process process = new ProcessBuilder(command).redirectErrorStream(true).directory(dir.toFile()).start();
      StringBuffer out = new StringBuffer();
      Thread reader = new Thread(() -> {
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
            StandardCharsets.UTF_8))) {
          for (String line; (line = lines.readLine()) != null; ) {
            out.append(line).append('\n');
          }
        } catch (IOException e) {
          // The process ended.
        }
      }, "node-app-output");
      reader.setDaemon(true);
      reader.start();
      return new RunningNode(process, out, reader);
    }

    /** The first output line containing {@code text}, within 90 s. */
    String awaitLine(String text) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (System.nanoTime() < deadline) {
        var line = output().lines().filter(l -> l.contains(text)).findFirst();
        if (line.isPresent()) {
          return line.get();
        }
        assertTrue(process.isAlive() || output().contains(text), "ended before '" + text + "':\n" + output());
        Thread.sleep(200);
      }
      throw new AssertionError("no '" + text + "' within 90 s:\n" + output());
    }

    String output() {
      return out.toString();
    }

    /** Stops it as Ctrl-C would (its shutdown hook leaves the cluster). */
    void stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
      reader.join(5000);
    }
  }
}
