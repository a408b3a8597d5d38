package org.dsparse.simulator.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import com.typesafe.config.ConfigFactory;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.core.cli.UsageException;
import org.dsparse.simulator.LinkRate;
import org.dsparse.simulator.ShapedLinks;

/**
 * AllReduce and Broadcast of one buffer (default 3.5M floats, about MobileNetV2's gradients) at
 * several group sizes, every member in its own JVM on loopback, beside the raw loopback TCP
 * throughput B measured in the same run and the bandwidth bounds derived from it:
 * {@code 2(N-1)/N * bytes / B} for a ring AllReduce and {@code bytes / B} for a Broadcast.
 *
 * <p>A run's time is the slowest member's; a row's time is the median over runs after warm-up.
 * Rows for both transports (the bulk TCP links and Artery) are measured in the same run, and B
 * before each row, since other work on the machine moves it; the bound uses the median B. Beside
 * each row, plain sockets move the collective's per-link volumes over all its links at once
 * ({@link LoopbackThroughput#ringMillis}): the floor on this machine, where all links share its cores.
 * Over TCP each member also reports its data thread's CPU time per collective; their sum over the
 * machine's cores is the other floor: the time the members' own work needs on these cores, whatever
 * the network could carry. Writes {@code results/allreduce.json} and prints a table.
 *
 * <p>With {@code --link 50mbit} (root) the benchmark runs again in a network namespace of its own
 * where each rank has its own loopback address, shaped by tc to that rate ({@link ShapedLinks}): B,
 * the plain-socket floors and the collectives are then measured on the shaped links, and each row
 * also reports the bytes tc counted on the members' links while it ran.
 */
public final class CollectiveBenchmark {
  private CollectiveBenchmark() {}

  /**
   * {@code boundMillis} is the textbook bound, every link moving B at once; {@code rawLinksMillis}
   * is plain sockets moving the same per-link volumes over all links at once on this machine.
   */
  record Row(String transport, int members, int floats, double medianMillis, double boundMillis,
      double rawLinksMillis, double dataCpuMillis, boolean correct, long linkBytes) {
    /** The time the members' data threads need at least when they share this machine's cores. */
    double cpuFloorMillis() {
      return dataCpuMillis / CORES;
    }
  }

  private static final int CORES = Runtime.getRuntime().availableProcessors();

  /**
   * One group size on one transport, with B and the plain-socket ring and chain as measured just
   * before it (the machine may be shared).
   */
  record Measured(String transport, int members, double rawTcpBefore, double rawRingMillis, double rawChainMillis,
      MemberResults results, long linkBytes) {}

  private static long sum(Map<String, Long> bytes) {
    return bytes.values().stream().mapToLong(Long::longValue).sum();
  }

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException | UsageException e) {
      System.err.println("allreduce: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (options.linkBits > 0 && System.getenv(ShapedLinks.NAMESPACE_ENV) == null) {
      try {
        System.exit(ShapedLinks.runInOwnNamespace(CollectiveBenchmark.class, List.of(args)));
      } catch (UsageException e) {
        System.err.println("allreduce: " + e.getMessage());
        System.exit(2);
      }
    }
    ShapedLinks links = options.linkBits > 0 ? shape(options) : null;
    try {
      run(options, links);
    } finally {
      if (links != null) {
        links.close();
      }
    }
  }

  /** Every rank's address shaped to the link's rate, in the namespace this benchmark runs in. */
  private static ShapedLinks shape(Options options) {
    int ranks = IntStream.concat(IntStream.concat(Arrays.stream(options.members), Arrays.stream(options.arteryMembers)),
        Arrays.stream(options.tlsMembers)).max().orElse(2);
    Map<String, Long> rates = new LinkedHashMap<>();
    for (int rank = 0; rank < ranks; rank++) {
      rates.put("rank-" + rank, options.linkBits);
    }
    return ShapedLinks.install(rates, null);
  }

  private static void run(Options options, ShapedLinks links) throws Exception {
    int bytes = options.floats * 4;
    // On shaped links every rank has its own address, whose traffic tc shapes to the link's rate.
    IntFunction<String> host = links == null ? rank -> "127.0.0.1" : ShapedLinks::host;
    // A shaped 14 MB transfer takes seconds, not milliseconds: fewer of them measure B well enough.
    int rawWarmUps = links == null ? 2 : 1;
    int rawRuns = links == null ? 5 : 3;
    List<Measured> measured = new ArrayList<>();
    List<Double> rawTcpSamples = new ArrayList<>();
    // The TLS rows' members hold certificates of one CA made for this run.
    Path certificates = options.tlsMembers.length == 0 ? null : certificates(options.tlsMembers);
    for (String transport : List.of("tcp", "tcp-tls", "artery", "artery-tls")) {
      for (int members : transport.equals("tcp") ? options.members
          : transport.equals("artery") ? options.arteryMembers : options.tlsMembers) {
        double rawTcp = LoopbackThroughput.measure(host.apply(0), bytes, rawWarmUps, rawRuns);
        rawTcpSamples.add(rawTcp);
        int chunk = (int) options.chunkBytes;
        double ring = LoopbackThroughput.ringMillis(host, members, members,
            Math.round(2.0 * (members - 1) / members * bytes), chunk, rawWarmUps, rawRuns);
        double chain = LoopbackThroughput.ringMillis(host, members, members - 1, bytes, chunk, rawWarmUps, rawRuns);
        long linkBytesBefore = links == null ? 0 : sum(links.bytesReceived());
        MemberResults results = runMembers(members, transport, options, certificates, host);
        long linkBytes = links == null ? -1 : sum(links.bytesReceived()) - linkBytesBefore;
        measured.add(new Measured(transport, members, rawTcp, ring, chain, results, linkBytes));
      }
    }
    rawTcpSamples.add(LoopbackThroughput.measure(host.apply(0), bytes, rawWarmUps, rawRuns));
    double rawTcp = median(rawTcpSamples.stream().mapToDouble(Double::doubleValue).toArray());
    List<Row> allReduce = new ArrayList<>();
    List<Row> broadcast = new ArrayList<>();
    for (Measured m : measured) {
      double ringBound = 2.0 * (m.members() - 1) / m.members() * bytes / rawTcp * 1e3;
      allReduce.add(new Row(m.transport(), m.members(), options.floats, m.results().allReduceMedian(), ringBound,
          m.rawRingMillis(), m.results().allReduceCpuMedian(), m.results().correct, m.linkBytes()));
      broadcast.add(new Row(m.transport(), m.members(), options.floats, m.results().broadcastMedian(),
          bytes / rawTcp * 1e3, m.rawChainMillis(), m.results().broadcastCpuMedian(), m.results().correct,
          m.linkBytes()));
    }
    String json = toJson(rawTcp, rawTcpSamples, options, allReduce, broadcast);
    Path out = Path.of(options.output);
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, json);
    printTable(rawTcp, rawTcpSamples, options, allReduce, broadcast);
    System.out.println("wrote " + out + " and " + plot(out, allReduce, broadcast));
  }

  /**
   * A bar chart beside the JSON: each collective's median time by transport and member count, against
   * plain sockets moving the same bytes over the same links.
   */
  private static Path plot(Path json, List<Row> allReduce, List<Row> broadcast) throws IOException {
    Map<String, Map<String, Double>> bars = new LinkedHashMap<>();
    for (var collective : Map.of("AllReduce", allReduce, "Broadcast", broadcast).entrySet().stream()
        .sorted(Map.Entry.comparingByKey()).toList()) {
      for (Row row : collective.getValue()) {
        String category = collective.getKey() + ", " + row.members() + " members";
        bars.computeIfAbsent("dsparse (" + row.transport() + ")", k -> new LinkedHashMap<>()).put(category,
            row.medianMillis());
        bars.computeIfAbsent("plain sockets", k -> new LinkedHashMap<>()).putIfAbsent(category, row.rawLinksMillis());
      }
    }
    String name = json.getFileName().toString().replaceFirst("\\.json$", "") + ".png";
    return org.dsparse.simulator.Plots.bars(json.resolveSibling(name),
        "AllReduce and Broadcast, median ms (" + allReduce.get(0).floats() + " floats)", "ms", bars);
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /**
   * Per member and run: both collectives' times and their data threads' CPU milliseconds (-1 where
   * not measured); and whether every member checked its results.
   */
  record MemberResults(double[][] allReduceRuns, double[][] broadcastRuns, double[][] allReduceCpu,
      double[][] broadcastCpu, boolean correct) {
    double allReduceMedian() {
      return medianOfSlowest(allReduceRuns);
    }

    double broadcastMedian() {
      return medianOfSlowest(broadcastRuns);
    }

    /** Median over runs of the members' summed data thread CPU; NaN where it was not measured. */
    double allReduceCpuMedian() {
      return medianOfSum(allReduceCpu);
    }

    double broadcastCpuMedian() {
      return medianOfSum(broadcastCpu);
    }

    private static double medianOfSum(double[][] perMember) {
      double[] sums = new double[perMember[0].length];
      for (double[] member : perMember) {
        for (int i = 0; i < sums.length; i++) {
          sums[i] += member[i] < 0 ? Double.NaN : member[i];
        }
      }
      return Arrays.stream(sums).anyMatch(Double::isNaN) ? Double.NaN : median(sums);
    }

    private static double medianOfSlowest(double[][] perMember) {
      double[] slowest = new double[perMember[0].length];
      for (double[] member : perMember) {
        for (int i = 0; i < slowest.length; i++) {
          slowest[i] = Math.max(slowest[i], member[i]);
        }
      }
      return median(slowest);
    }
  }

  /** A CA and a certificate per rank, in a temporary folder, for the artery-tls rows. */
  private static Path certificates(int[] memberCounts) throws IOException {
    Path dir = Files.createTempDirectory("allreduce-tls");
    java.time.Clock now = java.time.Clock.systemUTC();
    org.dsparse.actors.tls.ClusterCertificates.initCa(dir, "bench", java.time.Duration.ofDays(30), now);
    for (int rank = 0; rank < Arrays.stream(memberCounts).max().orElse(0); rank++) {
      org.dsparse.actors.tls.ClusterCertificates.issue(dir, "rank-" + rank, java.time.Duration.ofDays(30), now);
    }
    return dir;
  }

  private static MemberResults runMembers(int members, String transport, Options options, Path certificates,
      IntFunction<String> host) throws Exception {
    List<String> endpoints = new ArrayList<>();
    for (int rank = 0; rank < members; rank++) {
      endpoints.add(host.apply(rank) + ":" + freePort(host.apply(rank)));
    }
    String endpointList = String.join(",", endpoints);
    String java = ProcessHandle.current().info().command().orElse("java");
    List<Process> processes = new ArrayList<>();
    try {
      for (int rank = 0; rank < members; rank++) {
        List<String> command = new ArrayList<>(List.of(java, "-Xms512m", "-Xmx1g", "-XX:+UseParallelGC",
            "-cp", System.getProperty("java.class.path")));
        // Settings given to the benchmark as -Ddsparse.* or -Dlogback.* reach every member.
        for (String key : System.getProperties().stringPropertyNames()) {
          if (key.startsWith("dsparse.") || key.startsWith("logback.")) {
            command.add(1, "-D" + key + "=" + System.getProperty(key));
          }
        }
        command.addAll(List.of(BenchMember.class.getName(), String.valueOf(rank), endpointList,
            String.valueOf(options.floats), String.valueOf(options.warmUps), String.valueOf(options.runs),
            String.valueOf(options.chunkBytes), transport));
        if (transport.endsWith("-tls")) {
          command.add(certificates.toString());
        }
        processes.add(new ProcessBuilder(command).redirectErrorStream(true).start());
      }
      double[][] allReduce = new double[members][];
      double[][] broadcast = new double[members][];
      double[][] allReduceCpu = new double[members][];
      double[][] broadcastCpu = new double[members][];
      boolean correct = true;
      for (int rank = 0; rank < members; rank++) {
        String line = awaitResult(processes.get(rank), rank, members);
        String[] fields = line.substring(BenchMember.RESULT_PREFIX.length()).split(" ");
        correct &= Boolean.parseBoolean(fields[1]);
        allReduce[rank] = Arrays.stream(fields[2].split(",")).mapToDouble(Double::parseDouble).toArray();
        broadcast[rank] = Arrays.stream(fields[3].split(",")).mapToDouble(Double::parseDouble).toArray();
        allReduceCpu[rank] = Arrays.stream(fields[4].split(",")).mapToDouble(Double::parseDouble).toArray();
        broadcastCpu[rank] = Arrays.stream(fields[5].split(",")).mapToDouble(Double::parseDouble).toArray();
      }
      for (Process process : processes) {
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("a member of the " + members + "-member run did not exit");
        }
      }
      return new MemberResults(allReduce, broadcast, allReduceCpu, broadcastCpu, correct);
    } finally {
      processes.forEach(Process::destroyForcibly);
    }
  }

  /** Reads the member's output until its RESULT line; anything else it prints is passed through. */
  private static String awaitResult(Process process, int rank, int members) throws IOException {
    BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = reader.readLine()) != null) {
      if (line.startsWith(BenchMember.RESULT_PREFIX)) {
        Thread drain = new Thread(() -> reader.lines().forEach(l -> System.err.println("[rank " + rank + "] " + l)));
        drain.setDaemon(true);
        drain.start();
        return line;
      }
      System.err.println("[rank " + rank + "] " + line);
    }
    throw new IllegalStateException("rank " + rank + " of the " + members + "-member run exited without a result");
  }

  private static int freePort(String host) throws IOException {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(host, 0));
      return socket.getLocalPort();
    }
  }

  private static String toJson(double rawTcp, List<Double> rawTcpSamples, Options options, List<Row> allReduce,
      List<Row> broadcast) {
    return "{\n  \"link\": \"" + options.link + "\""
        + ",\n  \"linkBitsPerSecond\": " + options.linkBits
        + ",\n  \"rawTcpBytesPerSec\": " + fmt(rawTcp)
        + ",\n  \"rawTcpSamplesBytesPerSec\": [" + String.join(", ", rawTcpSamples.stream().map(CollectiveBenchmark::fmt)
            .toList()) + "]"
        + ",\n  \"cores\": " + CORES
        + ",\n  \"chunkBytes\": " + options.chunkBytes
        + ",\n  \"warmUps\": " + options.warmUps
        + ",\n  \"runs\": " + options.runs
        + ",\n  \"rows\": " + rowsJson(onTransport(allReduce, "tcp"))
        + ",\n  \"broadcastRows\": " + rowsJson(onTransport(broadcast, "tcp"))
        + ",\n  \"arteryRows\": " + rowsJson(onTransport(allReduce, "artery"))
        + ",\n  \"arteryBroadcastRows\": " + rowsJson(onTransport(broadcast, "artery"))
        + ",\n  \"tcpTlsRows\": " + rowsJson(onTransport(allReduce, "tcp-tls"))
        + ",\n  \"tcpTlsBroadcastRows\": " + rowsJson(onTransport(broadcast, "tcp-tls"))
        + ",\n  \"arteryTlsRows\": " + rowsJson(onTransport(allReduce, "artery-tls"))
        + ",\n  \"arteryTlsBroadcastRows\": " + rowsJson(onTransport(broadcast, "artery-tls"))
        + ",\n  \"tlsOverhead\": " + tlsOverhead(allReduce, broadcast) + "\n}\n";
  }

  /**
   * Per transport and member count measured both ways: the median time under TLS divided by the
   * median without it, less one (measured side by side in this run).
   */
  private static String tlsOverhead(List<Row> allReduce, List<Row> broadcast) {
    List<String> entries = new ArrayList<>();
    for (String transport : List.of("tcp", "artery")) {
      for (Row tls : onTransport(allReduce, transport + "-tls")) {
        Row plain = row(allReduce, transport, tls.members());
        Row tlsBroadcast = row(broadcast, transport + "-tls", tls.members());
        Row plainBroadcast = row(broadcast, transport, tls.members());
        if (plain != null) {
          entries.add(String.format(Locale.ROOT,
              "{\"transport\": \"%s\", \"members\": %d, \"allReduce\": %.4f, \"broadcast\": %.4f}", transport,
              tls.members(), tls.medianMillis() / plain.medianMillis() - 1,
              tlsBroadcast == null || plainBroadcast == null ? Double.NaN
                  : tlsBroadcast.medianMillis() / plainBroadcast.medianMillis() - 1));
        }
      }
    }
    return "[" + String.join(", ", entries) + "]";
  }

  private static Row row(List<Row> rows, String transport, int members) {
    return rows.stream().filter(r -> r.transport().equals(transport) && r.members() == members).findFirst()
        .orElse(null);
  }

  /** {@code rows} holds the default transport only, so each member count appears once per array. */
  private static List<Row> onTransport(List<Row> rows, String transport) {
    return rows.stream().filter(row -> row.transport().equals(transport)).toList();
  }

  private static String rowsJson(List<Row> rows) {
    List<String> out = new ArrayList<>();
    for (Row row : rows) {
      out.add(String.format(Locale.ROOT,
          "    {\"transport\": \"%s\", \"members\": %d, \"floats\": %d, \"medianMillis\": %.3f, "
              + "\"boundMillis\": %.3f, \"rawLinksMillis\": %.3f, \"dataThreadsCpuMillis\": %s, "
              + "\"cpuFloorMillis\": %s, \"correct\": %b, \"linkBytes\": %s}",
          row.transport(), row.members(), row.floats(), row.medianMillis(), row.boundMillis(),
          row.rawLinksMillis(), jsonMillis(row.dataCpuMillis()), jsonMillis(row.cpuFloorMillis()), row.correct(),
          row.linkBytes() < 0 ? "null" : Long.toString(row.linkBytes())));
    }
    return out.isEmpty() ? "[]" : "[\n" + String.join(",\n", out) + "\n  ]";
  }

  private static String jsonMillis(double millis) {
    return Double.isNaN(millis) ? "null" : String.format(Locale.ROOT, "%.3f", millis);
  }

  private static String fmt(double value) {
    return String.format(Locale.ROOT, "%.0f", value);
  }

  private static void printTable(double rawTcp, List<Double> rawTcpSamples, Options options, List<Row> allReduce,
      List<Row> broadcast) {
    if (options.linkBits > 0) {
      System.out.printf(Locale.ROOT, "every member's link shaped to %s by tc: one plain TCP stream on it moves"
          + " B = %.2f MB/s (median of %s MB/s)%n", options.link, rawTcp / 1e6,
          rawTcpSamples.stream().map(b -> String.format(Locale.ROOT, "%.2f", b / 1e6)).toList());
    }
    System.out.printf(Locale.ROOT, "raw TCP B = %.2f GB/s (median of %s GB/s); %d floats (%.1f MB); "
            + "chunk %d KiB; median of %d runs after %d warm-ups%n",
        rawTcp / 1e9, rawTcpSamples.stream().map(b -> String.format(Locale.ROOT, "%.2f", b / 1e9)).toList(),
        options.floats, options.floats * 4 / 1e6, options.chunkBytes / 1024, options.runs, options.warmUps);
    System.out.printf(Locale.ROOT, "%-10s %-10s %7s %10s %9s %6s %16s %6s %14s %8s%n", "collective", "transport",
        "members", "median ms", "bound ms", "ratio", "raw links ms", "ratio", "cpu floor ms", "correct");
    for (List<Row> rows : List.of(allReduce, broadcast)) {
      String name = rows == allReduce ? "AllReduce" : "Broadcast";
      for (Row row : rows) {
        System.out.printf(Locale.ROOT, "%-10s %-10s %7d %10.1f %9.1f %6.2f %16.1f %6.2f %14s %8b%n", name,
            row.transport(), row.members(), row.medianMillis(), row.boundMillis(),
            row.medianMillis() / row.boundMillis(), row.rawLinksMillis(),
            row.medianMillis() / row.rawLinksMillis(),
            Double.isNaN(row.cpuFloorMillis()) ? "-" : String.format(Locale.ROOT, "%.1f", row.cpuFloorMillis()),
            row.correct());
      }
    }
  }

  /**
   * Command line: --members 2,3,7 --artery-members 2,3 (empty: none) --floats 3500000 --warm-ups 10
   * --runs 7 --chunk-bytes (default: dsparse.collective.chunk-size) --link loopback (or a rate such as
   * 50mbit: run as root) --out results/allreduce.json.
   */
  private static final class Options {
    int[] members = {2, 3, 7};
    int[] arteryMembers = {2, 3};
    /** Member counts also measured under the cluster's mutual TLS, on the data links and over Artery. */
    int[] tlsMembers = {2, 3};
    int floats = 3_500_000;
    // The members' JIT still compiles Pekko's and the collectives' paths through the first few dozen
    // collectives; ten warm-ups keep most of that out of the timed runs.
    int warmUps = 10;
    int runs = 7;
    long chunkBytes = CollectiveSettings.fromConfig(ConfigFactory.load()).chunkBytes();
    String output = "results/allreduce.json";
    /** Each member's link as tc shapes it; {@code loopback}: not shaped. */
    String link = "loopback";
    long linkBits;

    static Options parse(String[] args) {
      Options options = new Options();
      for (int i = 0; i < args.length; i++) {
        String flag = args[i];
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("flag " + flag + " needs a value");
        }
        String value = args[++i];
        try {
          switch (flag) {
            case "--members" -> options.members = counts(value);
            case "--artery-members" -> options.arteryMembers = counts(value);
            case "--tls-members" -> options.tlsMembers = counts(value);
            case "--floats" -> options.floats = Integer.parseInt(value);
            case "--warm-ups" -> options.warmUps = Integer.parseInt(value);
            case "--runs" -> options.runs = Integer.parseInt(value);
            case "--chunk-bytes" -> options.chunkBytes = Long.parseLong(value);
            case "--out" -> options.output = value;
            case "--link" -> {
              options.link = value;
              options.linkBits = LinkRate.parse("--link", value);
            }
            default -> throw new IllegalArgumentException("unknown flag " + flag
                + " (known: --members --artery-members --tls-members --floats --warm-ups --runs --chunk-bytes --link --out)");
          }
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("flag " + flag + ": not a number: " + value);
        }
      }
      if (options.runs < 5 || options.floats < 1 || options.warmUps < 0
          || Arrays.stream(options.members).anyMatch(m -> m < 2)
          || Arrays.stream(options.arteryMembers).anyMatch(m -> m < 2)
          || Arrays.stream(options.tlsMembers).anyMatch(m -> m < 2)) {
        throw new IllegalArgumentException("need --runs >= 5, --floats >= 1, --warm-ups >= 0 and every member count >= 2");
      }
      return options;
    }

    private static int[] counts(String value) {
      return value.isBlank() ? new int[0] : Arrays.stream(value.split(",")).mapToInt(Integer::parseInt).toArray();
    }
  }
}
