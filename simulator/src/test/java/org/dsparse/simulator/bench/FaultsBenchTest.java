package org.dsparse.simulator.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * bench/faults' bookkeeping: a fault the job did not survive cost an unknown number of steps, which
 * neither the fault's record, nor the sums over faults, nor the printed table may show as 0.
 */
class FaultsBenchTest {

  @Test
  void anUnsurvivedFaultsLostStepsAreUnknownNotZero() {
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", "kill -9");
    FaultsBench.unsurvived(fault, "the job did not recover");

    assertTrue(fault.get("committedStepsLost").isJsonNull(), fault.toString());
    assertTrue(fault.get("stepsRedone").isJsonNull(), fault.toString());
    assertTrue(fault.get("detectedSeconds").isJsonNull(), fault.toString());
    assertTrue(fault.get("trainingAgainSeconds").isJsonNull(), fault.toString());
  }

  @Test
  void sumsSkipUnknownLostStepsAndCountThem() {
    JsonArray faults = new JsonArray();
    faults.add(survived("kill -9", 4.5, 16.8, 3, 2));
    faults.add(survived("kill -9", 4.7, 23.8, 1, 0));
    JsonObject lost = new JsonObject();
    lost.addProperty("kind", "kill -9");
    FaultsBench.unsurvived(lost, "the job did not recover");
    faults.add(lost);
    faults.add(survived("restart", 7.5, 11.8, 0, 0));

    FaultsBench.Summary summary = FaultsBench.summarize(faults);
    assertEquals(3, summary.survived());
    assertEquals(2, summary.committedStepsLost());
    assertEquals(4, summary.stepsRedone());
    assertEquals(1, summary.lostStepsUnknown(), "the unsurvived fault's lost steps are unknown");
    assertEquals(4.7, summary.maxDetectedSeconds(), 1e-9);
    assertEquals(23.8, summary.maxTrainingAgainSeconds(), 1e-9, "restarts are not in the maxima");

    List<String> table = FaultsBench.table(faults);
    String kill = table.stream().filter(l -> l.startsWith("kill -9")).findFirst().orElseThrow();
    assertTrue(kill.contains("4 + 1 unknown (?)") && kill.contains("2 + 1 unknown (?)"), kill);
    assertTrue(kill.contains("4.6 / 4.7") && kill.contains("20.3 / 23.8"),
        "medians and maxima over the survived faults: " + kill);
    String restart = table.stream().filter(l -> l.startsWith("restart")).findFirst().orElseThrow();
    assertTrue(!restart.contains("?") && restart.trim().endsWith("0"), restart);
  }

  private static JsonObject survived(String kind, double detected, double again, long redone, long lost) {
    JsonObject fault = new JsonObject();
    fault.addProperty("kind", kind);
    fault.addProperty("survived", true);
    fault.addProperty("detectedSeconds", detected);
    fault.addProperty("trainingAgainSeconds", again);
    fault.addProperty("stepsRedone", redone);
    fault.addProperty("committedStepsLost", lost);
    return fault;
  }
}
