package org.dsparse.simulator.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.dsparse.simulator.CoordinatorProcess;
import org.junit.jupiter.api.Test;

class JobLogTest {
  private static String step(long step) {
    return CoordinatorProcess.EVENT + "{\"type\":\"StepReported\",\"event\":{\"step\":" + step + "}}";
  }

  @Test
  void aJobThatKeepsSteppingIsWaitedForPastThePatience() throws Exception {
    JobLog log = new JobLog(Duration.ofMillis(300));
    Thread job = new Thread(() -> {
      for (long s = 1; s <= 12; s++) {
        sleep(100);
        log.line("coordinator", step(s));
      }
      log.line("coordinator", CoordinatorProcess.EVENT + "{\"type\":\"Succeeded\",\"event\":{}}");
    });
    long started = System.currentTimeMillis();
    job.start();
    log.await("the job's end", l -> l.end != null);
    job.join();
    assertTrue(System.currentTimeMillis() - started >= 1000, "the job ran about 1.2 s, four times the patience");
    assertEquals(12, log.lastStep());
  }

  @Test
  void aJobThatStopsSteppingEndsTheWaitNamingItsLastStep() {
    JobLog log = new JobLog(Duration.ofMillis(300));
    log.line("coordinator", step(7));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> log.await("the job's end", l -> l.end != null));
    assertTrue(e.getMessage().contains("no step of the job for PT0.3S (last step 7)"), e.getMessage());
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
