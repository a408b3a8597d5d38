package org.dsparse.simulator.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.dsparse.simulator.Plots;

/**
 * Draws bench/memory's results beside their JSON: predicted against measured training memory of each
 * row (batch, and how many of the model's layers it updates), in MiB.
 * Usage: {@code MemoryPlot results/memory.json}, which writes {@code results/memory.png}.
 */
public final class MemoryPlot {
  private MemoryPlot() {}

  public static void main(String[] args) throws Exception {
    Path json = Path.of(args.length > 0 ? args[0] : "results/memory.json");
    JsonObject results = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
    int totalLayers = results.get("totalLayers").getAsInt();
    Map<String, Map<String, Double>> bars = new LinkedHashMap<>();
    for (JsonElement element : results.getAsJsonArray("rows")) {
      JsonObject row = element.getAsJsonObject();
      int layers = row.getAsJsonArray("updatedLayers").size();
      String category = row.get("batch").getAsInt() + ":" + (layers >= totalLayers ? "all" : layers);
      bars.computeIfAbsent("predicted", k -> new LinkedHashMap<>()).put(category,
          row.get("predictedBytes").getAsLong() / 1048576.0);
      bars.computeIfAbsent("measured", k -> new LinkedHashMap<>()).put(category,
          row.get("measuredBytes").getAsLong() / 1048576.0);
    }
    String name = json.getFileName().toString().replaceFirst("\\.json$", "") + ".png";
    Path png = Plots.bars(json.resolveSibling(name), results.get("model").getAsString()
        + " training memory, batch:layers updated (all, or the last k)", "MiB", bars);
    System.out.println("plot: " + png);
  }
}
