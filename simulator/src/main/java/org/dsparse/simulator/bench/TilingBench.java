package org.dsparse.simulator.bench;

import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.core.tiling.TiledLayer;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.simulator.DeviceCgroup;
import org.dsparse.simulator.LabJson;
import org.dsparse.simulator.LabLaunch;
import org.dsparse.simulator.SimulationConfig;
import org.dsparse.training.model.Models;
import org.dsparse.training.tiling.TiledGroup;
import org.dsparse.training.trainer.DjlDefaults;
import org.dsparse.training.trainer.DjlThread;

/**
 * bench/tiling: the first layers of a CNN tiled across tile groups of k devices (each its own JVM,
 * on a loopback cluster) against one device training the whole network, the same batches from the
 * same weights. Per k the cost model picks grid and grouping; the devices measure their peak
 * training memory, their CPU time per step and their bytes on the wire; the head, the test accuracy.
 *
 * <p>What is derived: on this 2-core machine the devices share the cores, so wall time says nothing
 * of separate devices. The critical path of a step on separate devices is derived from what was
 * measured: the slowest member's CPU time on its tiles, the head's on the rest of the network, and
 * the exchanges at the configured link (each member's bytes at its bandwidth, each collective's ring
 * rounds at its hop latency). The implied speed-up is the one device's critical path (its CPU time)
 * over the tile group's. The tiled layers' activation bytes per device are the geometry's count.
 *
 * <p>On the lab ({@code profile}, and {@code member-profile} for the members other than the head): each
 * device's JVM runs in cgroups of its own ({@link LabLaunch}), so each has its own CPU quota and the
 * wall-clock time of a step is measured, not derived: the measured speed-up is one device's median
 * wall-clock step over the tile group's (its slowest member's). Every run also gives the wall-clock
 * figures off the lab, where they only say how the devices shared this machine's cores. Beside each
 * device's own memory figure (resident growth over its baseline) stands what the kernel charged its
 * whole process (the peak of its cgroup's anonymous memory).
 */
public final class TilingBench {
  private static final String PATH = "dsparse.bench.tiling";
  private static final AtomicInteger LABS = new AtomicInteger();

  private TilingBench() {}

  /**
   * The lab profiles of the tile devices: {@code head} for the one device training the whole network
   * and for rank 0 of a group, {@code member} for the other members; empty when {@code profile} is absent
   * or "".
   */
  record Lab(LabProfile head, LabProfile member) {
    static Optional<Lab> read(Config c) {
      Optional<LabProfile> head = SimulationConfig.labProfile(c, "profile", PATH + ".profile", "tile-device");
      Optional<LabProfile> member = SimulationConfig.labProfile(c, "member-profile", PATH + ".member-profile",
          "tile-member");
      if (head.isEmpty() && member.isPresent()) {
        throw new UsageException(PATH + ".member-profile is set but profile is not: set profile (the head's and the"
            + " one device's board) too, or neither");
      }
      return head.map(h -> new Lab(h, member.orElse(h)));
    }

    LabProfile of(int rank, boolean tilesOnly) {
      return rank == 0 && !tilesOnly ? head : member;
    }

    /** The cores a tile group of {@code k} takes together. */
    double cores(int k) {
      return head.cpuCores() + (k - 1) * member.cpuCores();
    }
  }

  public static void main(String[] args) {
    try {
      Flags flags = Flags.parse("tiling-bench", args, Set.of("config", "out"), Set.of());
      Path out = Path.of(flags.get("out", "results"));
      Config root = ConfigFactory.parseFile(Path.of(flags.get("config").orElseThrow(
          () -> new UsageException("tiling-bench: --config FILE missing"))).toFile())
          .withFallback(ConfigFactory.load()).resolve();
      run(root, out);
    } catch (UsageException | ConfigException | IllegalArgumentException e) {
      System.err.println("tiling-bench: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("tiling-bench: " + e);
      System.exit(1);
    }
  }

  private static void run(Config root, Path out) throws Exception {
    Config c = root.getConfig(PATH);
    Optional<Lab> lab = Lab.read(c);
    DjlDefaults.apply();
    String model = c.getString("model");
    int resolution = c.getInt("resolution");
    int batch = c.getInt("batch");
    int layers = c.getInt("layers");
    List<Integer> tiles = c.getIntList("tiles");
    double link = c.getBytes("link-bandwidth");
    double hop = c.getDuration("hop-latency").toNanos() / 1e9;
    List<TiledLayer> described = DjlThread.call(() -> {
      try (LayeredModel m = Models.create(model, new Shape(1, resolution, resolution), 10, 1)) {
        return TiledGroup.of(m.layers().subList(0, layers), 1, resolution, resolution).layers();
      }
    });
    TilingCostModel costs = new TilingCostModel(described, resolution, resolution, batch,
        c.getDouble("flops-per-second"), 2, link, hop);
    Files.createDirectories(out);
    lab.ifPresent(l -> System.out.printf(Locale.ROOT, "on the lab: head and one device %s; members %s; %.2f cores"
        + " at k = %d%n", l.head().describe(), l.member().describe(), l.cores(tiles.stream().max(Integer::compare)
        .orElse(1)), tiles.stream().max(Integer::compare).orElse(1)));
    JsonArray rows = new JsonArray();
    Double oneDevice = null;
    Double oneDeviceWall = null;
    Long oneDeviceTiles = null;
    TilingCostModel.Cost groupingChosen = null;
    JsonObject groupingRow = null;
    for (int k : tiles) {
      TilingCostModel.Cost choice = k == 1 ? costs.best(1) : costs.best(k);
      if (choice == null) {
        throw new IllegalArgumentException("no grid of " + k + " tiles fits the first " + layers + " layers' outputs");
      }
      System.out.println(k == 1 ? "1 device: the whole network" : k + " devices: " + choice.describe()
          + " (predicted)");
      JsonObject row = measure(root, lab, k, choice, out, false);
      if (k == 1) {
        oneDevice = row.get("criticalPathMillis").getAsDouble();
        oneDeviceWall = row.get("measuredStepMillis").getAsDouble();
        System.out.println("1 device: the tiled layers alone (what a tile group's member other than the head runs)");
        JsonObject alone = measure(root, lab, 1, choice, out, true);
        row.addProperty("tiledLayersPeakBytes", alone.get("peakMemoryBytesPerDevice").getAsLong());
        if (alone.has("kernelPeakAnonymousBytesPerDevice")) {
          row.addProperty("tiledLayersKernelPeakAnonymousBytes", alone.get("kernelPeakAnonymousBytesPerDevice")
              .getAsLong());
        }
        oneDeviceTiles = alone.get("peakMemoryBytesPerDevice").getAsLong();
      }
      if (oneDeviceTiles != null && row.has("tiledLayersPeakBytes")) {
        row.addProperty("tiledLayersMemoryCut", (double) oneDeviceTiles / row.get("tiledLayersPeakBytes").getAsLong());
      }
      row.addProperty("impliedSpeedup", oneDevice != null ? oneDevice / row.get("criticalPathMillis").getAsDouble() : 1);
      row.addProperty("measuredSpeedup", oneDeviceWall != null
          ? oneDeviceWall / row.get("measuredStepMillis").getAsDouble() : 1);
      rows.add(row);
      print(row);
      if (k == c.getInt("grouping-at")) {
        groupingChosen = choice;
        groupingRow = row;
      }
    }
    JsonObject result = new JsonObject();
    result.addProperty("model", model);
    result.addProperty("resolution", resolution);
    result.addProperty("batch", batch);
    result.addProperty("steps", c.getInt("steps"));
    result.addProperty("tiledLayers", layers);
    result.addProperty("linkBytesPerSecond", link);
    result.addProperty("hopLatencySeconds", hop);
    result.addProperty("measured", "peakMemoryBytesPerDevice (largest over the group, the head included, which"
        + " also runs the rest of the network), tiledLayersPeakBytes (a device running the tiled layers alone: at k = 1"
        + " one device, else the largest member other than the head), cpuMillis, sentBytesPerStep, bytesPerStep,"
        + " testAccuracy; measuredStepMillis (wall clock per step, the median after the warm-up steps, of the slowest"
        + " device; on the lab each device has its own CPU quota, off it the devices share this machine's cores) and"
        + " measuredSpeedup (one device's measuredStepMillis over this row's); on the lab"
        + " kernelPeakAnonymousBytesPerDevice (the largest peak of a device's cgroup's anonymous memory: its whole"
        + " process, JVM and libraries included, as the kernel charged it) and per device its profile");
    result.addProperty("derived", "criticalPathMillis (measured CPU times and bytes at the link's bandwidth and"
        + " latency), impliedSpeedup, tiledLayersActivationBytes (the tiles' geometry)");
    result.add("lab", lab.map(l -> labJson(l, tiles)).orElse(null));
    result.add("rows", rows);
    if (groupingRow != null) {
      TilingCostModel.Grid grid = groupingChosen.grid();
      TilingCostModel.Cost fixed = costs.bestFixed(grid);
      JsonObject grouping = new JsonObject();
      grouping.addProperty("k", grid.tiles());
      grouping.addProperty("chosen", groupingChosen.groups().toString());
      grouping.addProperty("bestFixed", fixed.groups().toString());
      grouping.addProperty("chosenPredictedMillis", groupingChosen.seconds() * 1e3);
      grouping.addProperty("bestFixedPredictedMillis", fixed.seconds() * 1e3);
      grouping.addProperty("chosenMillis", groupingRow.get("criticalPathMillis").getAsDouble());
      grouping.addProperty("chosenMeasuredStepMillis", groupingRow.get("measuredStepMillis").getAsDouble());
      if (fixed.groups().equals(groupingChosen.groups())) {
        grouping.addProperty("bestFixedMillis", groupingRow.get("criticalPathMillis").getAsDouble());
        grouping.addProperty("bestFixedMeasuredStepMillis", groupingRow.get("measuredStepMillis").getAsDouble());
        grouping.addProperty("note", "the cost model chose a fixed grouping: the same run");
      } else {
        System.out.println(grid.tiles() + " devices, the best fixed grouping: " + fixed.describe() + " (predicted)");
        JsonObject fixedRow = measure(root, lab, grid.tiles(), fixed, out, false);
        print(fixedRow);
        grouping.addProperty("bestFixedMillis", fixedRow.get("criticalPathMillis").getAsDouble());
        grouping.addProperty("bestFixedMeasuredStepMillis", fixedRow.get("measuredStepMillis").getAsDouble());
      }
      result.add("grouping", grouping);
    }
    Path file = out.resolve("tiling.json");
    Files.writeString(file, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create()
        .toJson(result));
    System.out.println("wrote " + file);
  }

  static JsonObject labJson(Lab lab, List<Integer> tiles) {
    JsonObject json = new JsonObject();
    json.add("head", LabJson.profile(lab.head()));
    json.add("member", LabJson.profile(lab.member()));
    JsonObject cores = new JsonObject();
    tiles.forEach(k -> cores.addProperty(Integer.toString(k), lab.cores(k)));
    json.add("cpuCoresByK", cores);
    return json;
  }


  /**
   * Runs k devices (one: the whole network) and reads their reports into a row; on the lab each in its
   * own cgroups, whose kernel-charged peaks join the reports.
   */
  private static JsonObject measure(Config root, Optional<Lab> lab, int k, TilingCostModel.Cost choice, Path out,
      boolean tilesOnly) throws Exception {
    Config c = root.getConfig(PATH);
    int port = c.getInt("port");
    String labName = "dsparse-tiling-" + ProcessHandle.current().pid() + "-" + LABS.incrementAndGet();
    List<DeviceCgroup> cgroups = new ArrayList<>();
    try {
      return measure(root, lab, k, choice, out, tilesOnly, port, labName, cgroups);
    } finally {
      cgroups.forEach(DeviceCgroup::close);
      if (lab.isPresent()) {
        DeviceCgroup.removeLab(labName);
      }
    }
  }

  private static JsonObject measure(Config root, Optional<Lab> lab, int k, TilingCostModel.Cost choice, Path out,
      boolean tilesOnly, int port, String labName, List<DeviceCgroup> cgroups) throws Exception {
    Config c = root.getConfig(PATH);
    List<Process> processes = new ArrayList<>();
    List<Path> reports = new ArrayList<>();
    String grouping = choice.groups().stream().map(g -> g.from() + "-" + (g.to() - 1)).collect(Collectors.joining(","));
    for (int r = 0; r < k; r++) {
      Path report = Files.createTempFile(out, "tiling-" + k + "-" + r + "-", ".json");
      reports.add(report);
      List<String> args = new ArrayList<>(List.of("--rank", Integer.toString(r), "--members", Integer.toString(k),
          "--port", Integer.toString(port), "--model", c.getString("model"), "--data", c.getString("data"),
          "--resolution", Integer.toString(c.getInt("resolution")), "--batch", Integer.toString(c.getInt("batch")),
          "--steps", Integer.toString(c.getInt("steps")), "--seed", Integer.toString(c.getInt("seed")),
          "--grouping", grouping, "--grid", choice.grid().rows() + "x" + choice.grid().columns(),
          "--checkpoint", c.getString("checkpoint"), "--evaluate", Integer.toString(c.getInt("evaluate")),
          "--learning-rate", Double.toString(c.getDouble("learning-rate")), "--out", report.toString()));
      if (tilesOnly) {
        args.add("--tiles-only");
      }
      int rank = r;
      DeviceCgroup cgroup = lab.map(l -> DeviceCgroup.create(labName, "k" + k + "-rank" + rank
          + (tilesOnly ? "-tiles" : ""), l.of(rank, tilesOnly))).orElse(null);
      if (cgroup != null) {
        cgroups.add(cgroup);
      }
      ProcessBuilder builder = LabLaunch.builder(cgroup, c.getString("device-heap"), TileDevice.class, args, root);
      builder.redirectOutput(ProcessBuilder.Redirect.INHERIT);
      Process process = builder.start();
      processes.add(process);
      if (cgroup != null) {
        try {
          awaitMember(cgroup, process);
        } catch (UsageException e) {
          processes.forEach(Process::destroyForcibly);
          throw e;
        }
      }
    }
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(c.getDuration("run-timeout").toMinutes());
    for (int r = 0; r < k; r++) {
      Process p = processes.get(r);
      long left = deadline - System.nanoTime();
      if (!p.waitFor(Math.max(1, left), TimeUnit.NANOSECONDS) || p.exitValue() != 0) {
        processes.forEach(Process::destroyForcibly);
        String killed = cgroups.isEmpty() || cgroups.get(r).oomKills() == 0 ? ""
            : "; the kernel's OOM killer killed it at its limit of " + (cgroups.get(r).profile().memoryLimitBytes() >> 20)
            + " MiB (" + cgroups.get(r).profile().name() + ")";
        throw new IllegalStateException("tile device " + r + " of " + k + (p.isAlive() ? " did not finish in time"
            : " failed (exit " + p.exitValue() + "); its output is above") + killed);
      }
    }
    List<JsonObject> devices = new ArrayList<>();
    for (int r = 0; r < k; r++) {
      JsonObject device = JsonParser.parseString(Files.readString(reports.get(r))).getAsJsonObject();
      Files.delete(reports.get(r));
      if (!cgroups.isEmpty()) {
        device.addProperty("kernelPeakAnonymousBytes", cgroups.get(r).peakAnonymousBytes());
        device.addProperty("profile", cgroups.get(r).profile().name());
      }
      devices.add(device);
    }
    return row(c, k, choice, devices, tilesOnly);
  }

  /**
   * Checks that a lab device's process is in its cgroups: its shell joins them before it execs the JVM,
   * so the check waits a moment for that.
   */
  private static void awaitMember(DeviceCgroup cgroup, Process process) throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        cgroup.checkMember(process.pid());
        return;
      } catch (UsageException e) {
        if (attempt >= 50 || !process.isAlive()) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  private static JsonObject row(Config c, int k, TilingCostModel.Cost choice, List<JsonObject> devices,
      boolean tilesOnly) {
    int warmUp = Math.min(c.getInt("warm-up-steps"), c.getInt("steps") - 1);
    double link = c.getBytes("link-bandwidth");
    double hopMillis = c.getDuration("hop-latency").toNanos() / 1e6;
    long peak = 0;
    long tilesPeak = 0;
    double bytes = 0;
    double maxSent = 0;
    double slowestTiles = 0;
    double rest = 0;
    double wall = 0;
    long kernelPeak = -1;
    JsonArray perDevice = new JsonArray();
    for (JsonObject d : devices) {
      peak = Math.max(peak, d.get("peakMemoryBytes").getAsLong());
      if (d.get("rank").getAsInt() != 0) {
        tilesPeak = Math.max(tilesPeak, d.get("peakMemoryBytes").getAsLong());
      }
      bytes += d.get("sentBytesPerStep").getAsDouble();
      maxSent = Math.max(maxSent, d.get("sentBytesPerStep").getAsDouble());
      double cpu = median(d.getAsJsonArray("cpuMillis"), warmUp);
      double headRest = median(d.getAsJsonArray("restCpuMillis"), warmUp);
      slowestTiles = Math.max(slowestTiles, cpu - headRest);
      rest = Math.max(rest, headRest);
      double deviceWall = median(d.getAsJsonArray("wallMillis"), warmUp);
      wall = Math.max(wall, deviceWall);
      JsonObject one = new JsonObject();
      one.addProperty("rank", d.get("rank").getAsInt());
      if (d.has("profile")) {
        one.addProperty("profile", d.get("profile").getAsString());
      }
      one.addProperty("peakMemoryBytes", d.get("peakMemoryBytes").getAsLong());
      if (d.has("kernelPeakAnonymousBytes")) {
        long kernel = d.get("kernelPeakAnonymousBytes").getAsLong();
        one.addProperty("kernelPeakAnonymousBytes", kernel);
        kernelPeak = Math.max(kernelPeak, kernel);
      }
      one.addProperty("measuredStepMillis", deviceWall);
      one.addProperty("cpuMillis", cpu);
      one.addProperty("restCpuMillis", headRest);
      one.addProperty("sentBytesPerStep", d.get("sentBytesPerStep").getAsDouble());
      perDevice.add(one);
    }
    JsonObject head = devices.stream().filter(d -> d.get("rank").getAsInt() == 0).findFirst().orElseThrow();
    double exchanges = head.get("exchangesPerStep").getAsDouble();
    double exchangeMillis = k == 1 ? 0 : maxSent / link * 1e3 + exchanges * 2 * (k - 1) * hopMillis;
    JsonObject row = new JsonObject();
    row.addProperty("k", k);
    row.addProperty("grid", k == 1 ? "1x1" : choice.grid().toString());
    row.addProperty("groups", k == 1 ? "untiled" : choice.groups().toString());
    row.addProperty("peakMemoryBytesPerDevice", peak);
    if (kernelPeak >= 0) {
      row.addProperty("kernelPeakAnonymousBytesPerDevice", kernelPeak);
    }
    row.addProperty("tiledLayersActivationBytes", choice.storedBytesPerDevice());
    if (k > 1) {
      row.addProperty("tiledLayersPeakBytes", tilesPeak);
    }
    row.addProperty("bytesPerStep", bytes);
    row.addProperty("tilesCpuMillis", slowestTiles);
    row.addProperty("restCpuMillis", rest);
    row.addProperty("exchangeMillis", exchangeMillis);
    row.addProperty("exchangesPerStep", exchanges);
    row.addProperty("criticalPathMillis", slowestTiles + rest + exchangeMillis);
    row.addProperty("measuredStepMillis", wall);
    if (tilesOnly) {
      return row;
    }
    row.addProperty("testAccuracy", head.get("testAccuracy").getAsDouble());
    row.addProperty("testImages", head.get("testImages").getAsLong());
    row.addProperty("finalLoss", last(head.getAsJsonArray("losses")));
    row.add("losses", head.getAsJsonArray("losses"));
    row.add("devices", perDevice);
    return row;
  }

  private static double median(JsonArray values, int skip) {
    double[] v = new double[values.size() - skip];
    for (int i = skip; i < values.size(); i++) {
      v[i - skip] = values.get(i).getAsDouble();
    }
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private static double last(JsonArray values) {
    JsonElement e = values.get(values.size() - 1);
    return e.getAsDouble();
  }

  private static void print(JsonObject row) {
    if (!row.has("testAccuracy")) {
      System.out.printf(Locale.ROOT, "  tiled layers alone: peak %.1f MB%n", row.get("peakMemoryBytesPerDevice")
          .getAsLong() / 1e6);
      return;
    }
    System.out.printf(Locale.ROOT, "  k=%d %s %s: peak %.1f MB per device (tiled layers alone %.1f MB), tiled"
            + " activations %.1f MB, %.2f MB/step, critical path %.0f ms (tiles %.0f + rest %.0f + exchanges %.0f),"
            + " measured %.0f ms per step (speed-up %.2f), accuracy %.2f%%%s%n",
        row.get("k").getAsInt(), row.get("grid").getAsString(), row.get("groups").getAsString(),
        row.get("peakMemoryBytesPerDevice").getAsLong() / 1e6,
        row.has("tiledLayersPeakBytes") ? row.get("tiledLayersPeakBytes").getAsLong() / 1e6 : Double.NaN,
        row.get("tiledLayersActivationBytes").getAsDouble() / 1e6,
        row.get("bytesPerStep").getAsDouble() / 1e6, row.get("criticalPathMillis").getAsDouble(),
        row.get("tilesCpuMillis").getAsDouble(), row.get("restCpuMillis").getAsDouble(),
        row.get("exchangeMillis").getAsDouble(), row.get("measuredStepMillis").getAsDouble(),
        row.has("measuredSpeedup") ? row.get("measuredSpeedup").getAsDouble() : Double.NaN,
        row.get("testAccuracy").getAsDouble(), row.has("kernelPeakAnonymousBytesPerDevice")
            ? String.format(Locale.ROOT, ", kernel-charged peak %.1f MB per device",
                row.get("kernelPeakAnonymousBytesPerDevice").getAsLong() / 1e6) : "");
  }

}
