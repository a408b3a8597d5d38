package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.actors.job.JobReport;
import org.dsparse.core.cli.UsageException;
import org.dsparse.protocol.job.JobSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulationTest {
  private static Config config(String text) {
    return ConfigFactory.parseString(text).withFallback(ConfigFactory.load());
  }

  @Test
  void anExperimentRunsBothModesFromAPretrainedCheckpointAndReportsThem(@TempDir Path dir) throws Exception {
    Config config = config("""
        dsparse.simulation {
          name = tiny
          pretrain.epochs = 1
          devices = [ { name = big, budget = "100%" }, { name = small, budget = "60%" } ]
          variants = [ { name = averaging, job { averaging-interval = 2, refresh-interval = 2 } } ]
        }
        dsparse.job { model = small-cnn, held-out-fraction = 0.25, max-steps-per-epoch = 4, checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """);
    SimulationConfig simulation = SimulationConfig.read(config);
    List<String> log = new ArrayList<>();
    Simulation.Outcome outcome = new Simulation(simulation, config, dir, log::add).run();
    SimulationReport report = new SimulationReport(simulation, outcome);
    Path file = dir.resolve("tiny.json");
    report.write(file);
    JsonObject json = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    assertEquals("pretrained", json.get("setting").getAsString());
    assertEquals("predicted", json.get("memorySource").getAsString());
    assertEquals(2, json.getAsJsonArray("devices").size());
    for (String mode : List.of("full", "dsparse")) {
      JsonObject m = json.getAsJsonObject(mode);
      assertEquals(4, m.get("steps").getAsInt());
      double accuracy = m.get("testAccuracy").getAsDouble();
      assertTrue(accuracy > 0 && accuracy <= 1, mode + " accuracy " + accuracy);
    }
    assertTrue(json.getAsJsonObject("pretrain").get("samples").getAsInt() > 900);
    JsonObject variant = json.getAsJsonArray("variants").get(0).getAsJsonObject();
    assertEquals("averaging", variant.get("name").getAsString());
    assertEquals(2, variant.get("averagingInterval").getAsInt());
    assertEquals(4, variant.get("steps").getAsInt());
    // The small device cannot hold the full update, so DSparse must save it memory.
    JsonObject small = json.getAsJsonArray("devices").get(1).getAsJsonObject();
    assertTrue(small.get("dsparsePredictedBytes").getAsLong() < small.get("fullPredictedBytes").getAsLong());
    assertTrue(report.table().contains("test accuracy"), report.table());
    assertTrue(log.stream().anyMatch(l -> l.startsWith("pre-trained on")), log.toString());
    // The figures: PNGs of the chart size, drawn (more than a blank page's colours).
    List<Path> plots = report.plots(dir);
    assertEquals(List.of("tiny-memory.png", "tiny-time.png", "tiny-accuracy.png"),
        plots.stream().map(p -> p.getFileName().toString()).toList());
    for (Path plot : plots) {
      java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(plot.toFile());
      assertEquals(List.of(900, 500), List.of(image.getWidth(), image.getHeight()), plot.toString());
      java.util.Set<Integer> colours = new java.util.HashSet<>();
      for (int x = 0; x < image.getWidth(); x += 7) {
        for (int y = 0; y < image.getHeight(); y += 7) {
          colours.add(image.getRGB(x, y));
        }
      }
      assertTrue(colours.size() > 3, plot + " draws something: " + colours.size() + " colours");
    }
  }

  /**
   * Both modes under each protocol: the full update follows the protocol too (its weights averaged
   * every 2 steps move exactly half the bytes per step of its gradients every step), both modes'
   * bytes are counted, accuracy is measured every 2 steps, and each protocol gets its comparison.
   */
  @Test
  void eachProtocolRunsBothModesAndIsComparedAtTheSameProtocol(@TempDir Path dir) throws Exception {
    Config config = config("""
        dsparse.simulation {
          name = protocols
          devices = [ { name = big, budget = "100%" }, { name = small, budget = "60%" } ]
          protocols = [ { interval = 1 }, { interval = 2 } ]
        }
        # Whole payloads: sync's bytes are then exactly twice periodic-2's.
        dsparse.job { model = small-cnn, max-steps-per-epoch = 4, evaluate-every = 2, checkpoint-dir = "", overlap = off }
        pekko.loglevel = WARNING
        """);
    SimulationConfig simulation = SimulationConfig.read(config);
    Simulation.Outcome outcome = new Simulation(simulation, config, dir, line -> { }).run();
    JsonObject json = new SimulationReport(simulation, outcome).json();
    var runs = json.getAsJsonArray("runs");
    assertEquals(2, runs.size());
    double[] fullAllReduce = new double[2];
    for (int i = 0; i < 2; i++) {
      JsonObject run = runs.get(i).getAsJsonObject();
      String protocol = i == 0 ? "sync" : "periodic-2";
      assertEquals(protocol, run.get("protocol").getAsString());
      assertEquals("loopback", run.get("links").getAsString());
      for (String mode : List.of("full", "dsparse")) {
        JsonObject m = run.getAsJsonObject(mode);
        assertEquals(protocol, m.get("protocol").getAsString(), mode);
        assertTrue(m.get("wireBytesPerStepPerDevice").getAsDouble() > 0, mode + " " + protocol);
        var curve = m.getAsJsonArray("accuracyCurve");
        assertEquals(2, curve.size(), curve.toString());
        assertEquals(2, curve.get(0).getAsJsonObject().get("step").getAsInt());
        assertEquals(4, curve.get(1).getAsJsonObject().get("step").getAsInt());
      }
      fullAllReduce[i] = run.getAsJsonObject("full").getAsJsonObject("wireBytesPerStepPerDeviceByKind")
          .get("allreduce").getAsDouble();
    }
    assertEquals(fullAllReduce[0] / 2, fullAllReduce[1], 1e-6, "periodic-2 averages every other step");
    var comparisons = json.getAsJsonArray("comparisons");
    assertEquals(2, comparisons.size());
    for (int i = 0; i < 2; i++) {
      JsonObject c = comparisons.get(i).getAsJsonObject();
      assertEquals(i == 0 ? "sync" : "periodic-2", c.get("protocol").getAsString());
      assertEquals("scratch", c.get("setting").getAsString());
      assertTrue(Double.isFinite(c.get("wireBytesCut").getAsDouble()), c.toString());
      assertTrue(Double.isFinite(c.get("accuracyDelta").getAsDouble()), c.toString());
    }
  }

  /**
   * Both baselines beside the modes, end to end: the full update on the two devices whose budget holds
   * it, cut to DSparse's steps (two devices hold more data each), and the uniform tail on all three,
   * planned to the smallest budget with the layers below frozen everywhere; each compared with DSparse.
   */
  @Test
  void bothBaselinesRunWithDsparsesDataSeedBatchStepsAndProtocolAndAreCompared(@TempDir Path dir) throws Exception {
    Config config = config("""
        dsparse.simulation {
          name = baselines
          devices = [ { name = big, budget = "120%" }, { name = mid, budget = "110%" }, { name = small, budget = "60%" } ]
          baselines = [full-where-fits, uniform-tail]
        }
        # A tenth of the data: a few steps an epoch on three devices, more on two.
        dsparse.job { model = small-cnn, held-out-fraction = 0.9, evaluate-every = 2, checkpoint-dir = "", overlap = off }
        pekko.loglevel = WARNING
        """);
    SimulationConfig simulation = SimulationConfig.read(config);
    List<String> log = new ArrayList<>();
    Simulation.Outcome outcome = new Simulation(simulation, config, dir, log::add).run();
    Simulation.SettingResult run = outcome.settings().get(0);
    JobReport sparse = run.reports().get(JobSpec.Mode.DSPARSE);

    BaselineRun fits = run.baselines().get(Baseline.FULL_WHERE_FITS);
    assertTrue(fits.ran(), fits.note());
    assertEquals(List.of("big", "mid"), fits.devices());
    JobReport full = fits.report().orElseThrow();
    assertEquals(JobSpec.Mode.FULL, full.spec().mode());
    assertEquals(List.of("big", "mid"), full.devices().stream().map(JobReport.DeviceReport::name).toList());

    BaselineRun tail = run.baselines().get(Baseline.UNIFORM_TAIL);
    assertTrue(tail.ran(), tail.note());
    JobReport uniform = tail.report().orElseThrow();
    assertTrue(uniform.plan().contains("Plan (uniform-tail)") && uniform.plan().contains("frozen on every device"),
        uniform.plan());
    assertEquals(1, uniform.devices().stream().mapToInt(JobReport.DeviceReport::updatedLayers).distinct().count(),
        "every device updates the same layers: " + uniform.plan());
    for (JobReport baseline : List.of(full, uniform)) {
      assertEquals(sparse.steps(), baseline.steps(), baseline.spec().jobId());
      assertEquals(sparse.spec().seed(), baseline.spec().seed());
      assertEquals(sparse.spec().batch(), baseline.spec().batch());
      assertEquals(sparse.spec().protocol(), baseline.spec().protocol());
      assertEquals(sparse.spec().data(), baseline.spec().data());
      assertEquals(sparse.accuracyCurve().size(), baseline.accuracyCurve().size(), baseline.spec().jobId());
    }
    assertTrue(sparse.steps() > 2, "enough data for several steps: " + sparse.steps());

    JsonObject json = new SimulationReport(simulation, outcome).json();
    var rows = json.getAsJsonArray("comparisons");
    assertEquals(List.of("full", "full-where-fits", "uniform-tail"), java.util.stream.IntStream.range(0, rows.size())
        .mapToObj(i -> rows.get(i).getAsJsonObject().get("baseline").getAsString()).toList());
    for (var row : rows) {
      JsonObject c = row.getAsJsonObject();
      assertTrue(c.get("lab").isJsonNull(), c.toString());
      for (String figure : List.of("memoryCut", "wireBytesCut", "aggregationCut", "accuracyDelta")) {
        assertTrue(Double.isFinite(c.get(figure).getAsDouble()), figure + " in " + c);
      }
    }
  }

  @Test
  void badExperimentsAreNamedBeforeAnythingStarts() {
    UsageException e = assertThrows(UsageException.class, () -> SimulationConfig.read(config("""
        dsparse.simulation.devices = [ { name = a }, { name = a } ]
        """)));
    assertTrue(e.getMessage().contains("devices[1].name = 'a': the name is used twice"), e.getMessage());
    e = assertThrows(UsageException.class, () -> SimulationConfig.read(config("""
        dsparse.simulation.modes = [full, turbo]
        """)));
    assertTrue(e.getMessage().contains("turbo"), e.getMessage());
    e = assertThrows(UsageException.class, () -> SimulationConfig.read(config("""
        dsparse.simulation.pretrain.epochs = 1
        """)));
    assertTrue(e.getMessage().contains("held-out-fraction"), e.getMessage());
    e = assertThrows(UsageException.class, () -> SimulationConfig.read(config("""
        dsparse.job.partition = "zipf"
        """)));
    assertTrue(e.getMessage().contains("dsparse.job.partition"), e.getMessage());
    e = assertThrows(UsageException.class, () -> new DeviceProfile("x", "12 parsecs", 1, 0)
        .budgetBytes(100, "devices[0]"));
    assertTrue(e.getMessage().contains("devices[0]"), e.getMessage());
    assertEquals(40, new DeviceProfile("x", "40%", 1, 0).budgetBytes(100, "d"));
    assertEquals(JobSpec.Mode.FULL, SimulationConfig.read(config("")).modes().get(0));
  }
}
