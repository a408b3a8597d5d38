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
  }

  @Test
  void badExperimentsAreNamedBeforeAnythingStarts() {
    UsageException e = assertThrows(UsageException.class, () -> SimulationConfig.read(config("""
        dsparse.simulation.devices = [ { name = a }, { name = a } ]
        """)));
    assertTrue(e.getMessage().contains("'a' is used twice"), e.getMessage());
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
