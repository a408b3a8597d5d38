package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.cli.UsageException;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.junit.jupiter.api.Test;

/**
 * Which steps refresh, and how: with refresh compression every exact-every-th refresh, each epoch's
 * last and each evaluated step's are exact (they commit the step), the others compressed; without
 * it every refresh is exact, as before.
 */
class RefreshScheduleTest {
  private static JobSpec spec(String job) {
    return JobConfig.read(ConfigFactory.parseString("dsparse.job { checkpoint-dir = \"\", " + job + " }")
        .withFallback(ConfigFactory.load())).spec();
  }

  private static List<Refresh> schedule(JobSpec spec, int steps, int evaluateEvery) {
    List<Refresh> kinds = new ArrayList<>();
    for (int step = 0; step < steps; step++) {
      boolean last = step == steps - 1;
      boolean evaluated = evaluateEvery > 0 && (step + 1) % evaluateEvery == 0;
      kinds.add(JobCoordinator.refresh(spec, step, last, evaluated));
    }
    return kinds;
  }

  @Test
  void everyExactEveryThRefreshIsExactAndTheOthersCompressed() {
    JobSpec spec = spec("refresh-interval = 2, refresh-compression { kind = topk, exact-every = 3 }");
    List<Refresh> kinds = schedule(spec, 14, 0);
    Refresh n = Refresh.NONE;
    Refresh c = Refresh.COMPRESSED;
    Refresh e = Refresh.EXACT;
    // Refreshes at steps 1, 3, 5, ...: the 3rd (step 5) and 6th (step 11) exact; the epoch's last step too.
    assertEquals(List.of(n, c, n, c, n, e, n, c, n, c, n, e, n, e), kinds);
  }

  @Test
  void anEvaluatedStepRefreshesExactlySoThatEveryDeviceEvaluatesTheSameModel() {
    JobSpec spec = spec("refresh-compression { kind = quantize, exact-every = 10 }");
    List<Refresh> kinds = schedule(spec, 12, 4);
    assertEquals(Refresh.EXACT, kinds.get(3));
    assertEquals(Refresh.EXACT, kinds.get(7));
    assertEquals(Refresh.COMPRESSED, kinds.get(4));
    assertEquals(Refresh.EXACT, kinds.get(9), "the 10th refresh");
  }

  @Test
  void withoutRefreshCompressionEveryRefreshIsExactAsBefore() {
    assertTrue(schedule(spec("refresh-interval = 1"), 5, 0).stream().allMatch(k -> k == Refresh.EXACT));
    JobSpec allExact = spec("refresh-compression { kind = topk, exact-every = 1 }");
    assertFalse(allExact.refreshCompression().enabled());
    assertTrue(schedule(allExact, 5, 0).stream().allMatch(k -> k == Refresh.EXACT));
  }

  @Test
  void badSettingsAreRefusedNamingTheirKey() {
    for (String[] bad : new String[][] {
        {"refresh-compression.kind = zip", "dsparse.job.refresh-compression.kind = 'zip'"},
        {"refresh-compression { kind = topk, ratio = 1 }", "dsparse.job.refresh-compression.ratio"},
        {"refresh-compression { kind = quantize, bits = 6 }", "dsparse.job.refresh-compression.bits = '6'"},
        {"refresh-compression.exact-every = 0", "dsparse.job.refresh-compression.exact-every"},
        {"refresh-compression.check-every = 0", "dsparse.job.refresh-compression.check-every"}}) {
      UsageException e = assertThrows(UsageException.class, () -> spec(bad[0]), bad[0]);
      assertTrue(e.getMessage().startsWith(bad[1]), e.getMessage());
    }
  }
}
