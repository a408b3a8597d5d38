package org.dsparse.simulator.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.mode.tiles.TileGroupExchange;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.tiling.TilingCostModel;
import org.dsparse.protocol.wire.WireTraffic;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.tiling.TileExchange;
import org.dsparse.training.tiling.TiledStep;
import org.dsparse.training.tiling.TiledTrainer;
import org.dsparse.training.trainer.DjlDefaults;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device of {@link TilingBench}, in its own JVM: with {@code --members 1}, the whole network on
 * this device (DSparse's ordinary step); otherwise one member of a tile group on a loopback cluster,
 * its first layers tiled ({@link TiledTrainer}), rank 0 the head. Trains the same batches from the
 * same weights, then writes what it measured as JSON: its peak training memory (resident growth),
 * per step the CPU time of its DJL thread (the tiles, and on the head the rest of the network
 * apart) and the step's wall-clock time (exchanges and waits for the group included), its bytes on the wire, and on the head the test accuracy of a slice of the test set.
 */
public final class TileDevice {
  private TileDevice() {}

  public static void main(String[] args) throws Exception {
    DjlDefaults.apply();
    Flags flags = Flags.parse("tile-device", args, Set.of("rank", "members", "port", "model", "data", "resolution",
        "batch", "steps", "seed", "grouping", "grid", "checkpoint", "evaluate", "learning-rate", "out"),
        Set.of("tiles-only"));
    int rank = Integer.parseInt(flags.get("rank").orElseThrow());
    int members = Integer.parseInt(flags.get("members").orElseThrow());
    int port = Integer.parseInt(flags.get("port").orElseThrow());
    Path out = Path.of(flags.get("out").orElseThrow());
    ActorSystem<Void> system = members > 1 ? cluster(rank, members, port) : null;
    try {
      JsonObject result = train(flags, rank, members, port, system);
      Files.writeString(out, result.toString());
    } finally {
      if (system != null) {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    }
    System.exit(0);
  }

  private static ActorSystem<Void> cluster(int rank, int members, int port) throws InterruptedException {
    Config config = ConfigFactory.parseString(String.join("\n",
        "pekko.loglevel = WARNING",
        "pekko.actor.provider = cluster",
        "pekko.remote.artery.canonical.hostname = 127.0.0.1",
        "pekko.remote.artery.canonical.port = " + (port + rank),
        "pekko.cluster.seed-nodes = [\"pekko://tiles@127.0.0.1:" + port + "\"]",
        "pekko.cluster.downing-provider-class = \"\"",
        "pekko.cluster.jmx.enabled = off",
        "dsparse.collective.deadline = 60 s"))
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "tiles", config);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
        .filter(m -> m.status() == MemberStatus.up()).count() < members) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("tile device " + rank + ": a cluster of " + members
            + " did not form within 120 s");
      }
      Thread.sleep(50);
    }
    return system;
  }

  private static JsonObject train(Flags flags, int rank, int members, int port, ActorSystem<Void> system)
      throws Exception {
    DataSource source = DataSource.parse(flags.get("data", "fashion-mnist"), "--data");
    long seed = Long.parseLong(flags.get("seed", "1"));
    int batch = Integer.parseInt(flags.get("batch").orElseThrow());
    int steps = Integer.parseInt(flags.get("steps").orElseThrow());
    int resolution = Integer.parseInt(flags.get("resolution").orElseThrow());
    ImageSet trainSet = source.load(Split.TRAIN);
    ImageSet testSet = source.load(Split.TEST);
    ImageSetDataset train = ImageSetDataset.builder().setImageSet(trainSet)
        .optNormalization(source.normalization()).setSeededSampling(batch, seed).build();
    ImageSetDataset test = ImageSetDataset.builder().setImageSet(testSet)
        .optNormalization(source.normalization()).setSeededSampling(batch, seed).build();
    int pixels = (int) train.imageShape().get(1);
    if (resolution % pixels != 0) {
      throw new IllegalArgumentException("--resolution " + resolution + " is not a multiple of the images' "
          + pixels + " pixels");
    }
    int factor = resolution / pixels;
    Shape sample = new Shape(train.imageShape().get(0), resolution, resolution);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long djlThread = DjlThread.call(() -> Thread.currentThread().getId());
    Executor djl = work -> DjlThread.submit(() -> {
      work.run();
      return null;
    });
    TileGroupExchange exchange = null;
    if (members > 1) {
      List<Address> addresses = new ArrayList<>();
      for (int r = 0; r < members; r++) {
        addresses.add(new Address("pekko", "tiles", "127.0.0.1", port + r));
      }
      Map<String, ActorRef<ProcessGroup.Command>> groups = new java.util.HashMap<>();
      groups.put("tiles", processGroup(system, new GroupSpec("tiles", addresses)));
      for (int u = 0; u < members; u++) {
        if (u != rank) {
          String pair = TileGroupExchange.pairId("tiles", rank, u);
          groups.put(pair, processGroup(system, new GroupSpec(pair,
              List.of(addresses.get(Math.min(rank, u)), addresses.get(Math.max(rank, u))))));
        }
      }
      Collectives collectives = Collectives.of(groups, Duration.ofSeconds(120), system.scheduler());
      exchange = new TileGroupExchange(collectives, "tiles", rank, members, new AtomicLong());
    }
    TileGroupExchange tileExchange = exchange;
    LayeredModel model = DjlThread.call(() -> {
      LayeredModel m = Models.create(flags.get("model", "mobilenetv2"), sample, trainSet.classes(), seed);
      if (!flags.get("checkpoint", "").isEmpty()) {
        Checkpoint.loadAtAnyResolution(m, Path.of(flags.get("checkpoint").get()));
      }
      return m;
    });
    NDManager manager = DjlThread.call(() -> Engine.getInstance().newBaseManager());
    OptimizerSpec optimizer = new OptimizerSpec(org.dsparse.core.memory.OptimizerKind.SGD_MOMENTUM,
        Float.parseFloat(flags.get("learning-rate", "0.01")), 0.9f, 0);
    boolean tilesOnly = flags.has("tiles-only");
    SparseTrainer whole = members == 1 && !tilesOnly
        ? DjlThread.call(() -> new SparseTrainer(model, UpdateSet.all(model.layerCount()), optimizer)) : null;
    TileExchange tiles = members > 1 ? tileExchange : TileExchange.alone();
    List<TilingCostModel.Group> grouping = whole == null ? groups(flags.get("grouping").orElseThrow()) : List.of();
    // The head updates every layer, the other members the tiled ones.
    SparseTrainer sparse = whole == null ? DjlThread.call(() -> new SparseTrainer(model, rank == 0 && !tilesOnly
        ? UpdateSet.all(model.layerCount())
        : UpdateSet.of(model.layerCount(), java.util.stream.IntStream.range(0, grouping.get(grouping.size() - 1).to())
            .toArray()), optimizer)) : null;
    TiledTrainer tiled = whole == null ? DjlThread.call(() -> new TiledTrainer(sparse, grouping,
        grid(flags.get("grid").orElseThrow()), sample, tiles.rank())) : null;
    try {
      DjlThread.run(System::gc);
      long baseline = ProcessMemory.residentBytes();
      ProcessMemory.resetPeak();
      JsonArray cpu = new JsonArray();
      JsonArray wall = new JsonArray();
      JsonArray rest = new JsonArray();
      JsonArray losses = new JsonArray();
      Map<String, WireTraffic.Bytes> before = system != null ? WireTraffic.get(system).snapshot() : Map.of();
      Iterator<ImageBatch> batches = DjlThread.call(() -> train.batches(manager, batch, seed, 0).iterator());
      for (int s = 0; s < steps; s++) {
        ImageBatch b = DjlThread.call(batches::next);
        NDManager stepManager = DjlThread.call(manager::newSubManager);
        try {
          NDArray images = DjlThread.call(() -> {
            NDArray up = upsample(b.images(), factor);
            up.attach(stepManager);
            return up;
          });
          long started = threads.getThreadCpuTime(djlThread);
          long wallStarted = System.nanoTime();
          float loss;
          if (tilesOnly) {
            DjlThread.call(() -> tiled.tilesOnly(images, tiles, djl, stepManager)).toCompletableFuture()
                .get(10, TimeUnit.MINUTES);
            loss = Float.NaN;
          } else if (whole != null) {
            loss = DjlThread.call(() -> {
              float l = whole.forwardBackward(images, b.labels());
              whole.step();
              return l;
            });
          } else {
            loss = DjlThread.call(() -> tiled.step(images, b.labels(), tiles, djl, stepManager, new int[0],
                (segment, nanos) -> { }, TiledStep.WeightGradients.SUMMED)).toCompletableFuture()
                .get(10, TimeUnit.MINUTES);
            DjlThread.run(sparse::step);
          }
          cpu.add((threads.getThreadCpuTime(djlThread) - started) / 1e6);
          wall.add((System.nanoTime() - wallStarted) / 1e6);
          rest.add(tiled != null ? tiled.lastRestCpuNanos() / 1e6 : 0);
          losses.add(loss);
        } finally {
          DjlThread.run(() -> {
            stepManager.close();
            b.close();
          });
        }
      }
      long peak = ProcessMemory.peakResidentBytes() - baseline;
      Map<String, WireTraffic.Bytes> traffic = system != null
          ? WireTraffic.between(before, WireTraffic.get(system).snapshot()) : Map.of();
      long sent = 0;
      long received = 0;
      for (var e : traffic.entrySet()) {
        if (!e.getKey().equals(WireTraffic.CONTROL)) {
          sent += e.getValue().sent();
          received += e.getValue().received();
        }
      }
      JsonObject result = new JsonObject();
      result.addProperty("rank", rank);
      result.addProperty("members", members);
      result.addProperty("peakMemoryBytes", peak);
      result.add("cpuMillis", cpu);
      result.add("wallMillis", wall);
      result.add("restCpuMillis", rest);
      result.add("losses", losses);
      result.addProperty("sentBytesPerStep", (double) sent / steps);
      result.addProperty("receivedBytesPerStep", (double) received / steps);
      result.addProperty("exchangesPerStep", exchange != null ? (double) exchange.calls() / steps : 0);
      if (rank == 0 && !tilesOnly) {
        int evaluate = Integer.parseInt(flags.get("evaluate", "1000"));
        long[] counts = DjlThread.call(() -> {
          long correct = 0;
          long seen = 0;
          for (ImageBatch b : test.batches(manager, batch, seed, 0)) {
            try (b; NDManager evalManager = manager.newSubManager()) {
              if (seen >= evaluate) {
                break;
              }
              NDArray images = upsample(b.images(), factor);
              images.attach(evalManager);
              correct += (whole != null ? whole : sparse).correct(images, b.labels());
              seen += b.size();
            }
          }
          return new long[] {correct, seen};
        });
        result.addProperty("testImages", counts[1]);
        result.addProperty("testAccuracy", 100.0 * counts[0] / counts[1]);
      }
      return result;
    } finally {
      DjlThread.run(() -> {
        manager.close();
        model.close();
      });
    }
  }

  private static ActorRef<ProcessGroup.Command> processGroup(ActorSystem<Void> system, GroupSpec spec) {
    return system.systemActorOf(ProcessGroup.create(spec), ProcessGroup.actorName(spec.groupId()),
        org.apache.pekko.actor.typed.Props.empty());
  }

  /** Nearest-neighbour upsampling by an integer factor: each pixel a factor x factor block. */
  static NDArray upsample(NDArray images, int factor) {
    return factor == 1 ? images : images.repeat(2, factor).repeat(3, factor);
  }

  static List<TilingCostModel.Group> groups(String text) {
    List<TilingCostModel.Group> groups = new ArrayList<>();
    for (String part : text.split(",")) {
      String[] ends = part.split("-");
      int from = Integer.parseInt(ends[0].trim());
      int to = ends.length > 1 ? Integer.parseInt(ends[1].trim()) : from;
      groups.add(new TilingCostModel.Group(from, to + 1));
    }
    return groups;
  }

  static TilingCostModel.Grid grid(String text) {
    String[] parts = text.split("x");
    return new TilingCostModel.Grid(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
  }
}
