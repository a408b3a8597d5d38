package org.dsparse.training.profile;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.dsparse.core.cli.Flags;
import org.dsparse.training.model.Shapes;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.OptimizerKind;

/**
 * {@code bench/memory}: MobileNetV2 on Fashion-MNIST at batch 32 and 64, full update and only the
 * last k layers, each run in its own JVM; writes {@code results/memory.json} and prints a table.
 * The frozen prefix runs in micro-batches of {@code --prefix-micro-batch} samples (default 8, as a
 * job's {@code dsparse.job.frozen-prefix-micro-batch}; 0 for the whole batch).
 */
public final class MemoryBench {
  private static final List<Integer> LAST_K = List.of(1, 2, 3, 5, 7, 10);

  private MemoryBench() {}

  public static void main(String[] args) throws IOException {
    try {
      run(args);
    } catch (UsageException | IllegalArgumentException e) {
      System.err.println("bench/memory: " + e.getMessage());
      System.exit(2);
    }
  }

  static void run(String[] args) throws IOException {
    Flags flags = Flags.parse("bench/memory", args, Set.of("out", "batches", "steps", "prefix-micro-batch"),
        Set.of());
    int microBatch = flags.getInt("prefix-micro-batch", 8);
    Path out = Path.of(flags.get("out", "results/memory.json"));
    List<Integer> batches = flags.getInts("batches", List.of(32, 64));
    MemoryCoefficients coefficients = MemoryModels.coefficients(ConfigFactory.load());
    List<ProfileCommand.Row> rows = new ArrayList<>();
    JsonObject full = new JsonObject();
    int totalLayers = 0;
    for (int batch : batches) {
      ProfileRequest base = new ProfileRequest("mobilenetv2", Shapes.parse("1x28x28"), 10,
          batch, "all", OptimizerKind.SGD_MOMENTUM, flags.getInt("steps", 3), microBatch);
      List<String> updates = new ArrayList<>();
      updates.add("all");
      LAST_K.forEach(k -> updates.add("last:" + k));
      for (String update : updates) {
        long start = System.nanoTime();
        ProfileCommand.Row row = ProfileCommand.measure(base.withUpdate(update), coefficients);
        System.err.printf(Locale.ROOT, "batch %d %-8s measured %6s MiB in %.1f s%n", batch, update,
            org.dsparse.core.cli.Table.mib(row.measured().measuredBytes()), (System.nanoTime() - start) / 1e9);
        rows.add(row);
        totalLayers = row.update().layerCount();
        if (update.equals("all")) {
          full.addProperty(Integer.toString(batch), row.measured().measuredBytes());
        }
      }
    }
    JsonObject json = new JsonObject();
    json.addProperty("model", "mobilenetv2");
    json.addProperty("dataset", "fashion-mnist 1x28x28");
    json.addProperty("optimizer", "sgd-momentum");
    json.addProperty("totalLayers", totalLayers);
    json.addProperty("frozenPrefixMicroBatch", microBatch);
    JsonArray jsonRows = new JsonArray();
    for (ProfileCommand.Row r : rows) {
      JsonObject row = new JsonObject();
      row.addProperty("batch", r.request().batch());
      JsonArray names = new JsonArray();
      r.measured().updatedLayers().forEach(names::add);
      row.add("updatedLayers", names);
      row.addProperty("updatedParams", r.measured().updatedParams());
      row.addProperty("predictedBytes", r.predicted().totalBytes());
      row.addProperty("measuredBytes", r.measured().measuredBytes());
      row.addProperty("relativeError", r.relativeError());
      row.addProperty("savingVsFull", 1.0 - r.measured().measuredBytes()
          / full.get(Integer.toString(r.request().batch())).getAsDouble());
      jsonRows.add(row);
    }
    json.add("rows", jsonRows);
    json.add("fullMeasuredBytes", full);
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, new GsonBuilder().setPrettyPrinting().create().toJson(json));
    System.out.print(ProfileCommand.table(rows));
    System.out.println();
    for (ProfileCommand.Row r : rows) {
      if (r.update().count() * 4 == r.update().layerCount()) {
        System.out.printf(Locale.ROOT, "batch %d: updating the last quarter (%d of %d layers) measures %.1f%% less than"
            + " the full update%n", r.request().batch(), r.update().count(), r.update().layerCount(),
            100 * (1 - r.measured().measuredBytes() / full.get(Integer.toString(r.request().batch())).getAsDouble()));
      }
    }
    System.out.printf(Locale.ROOT, "worst prediction error: %.1f%%%nwrote %s%n",
        100 * rows.stream().mapToDouble(r -> Math.abs(r.relativeError())).max().orElse(0), out);
  }
}
