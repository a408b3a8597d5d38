package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.stream.IntStream;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

/** A job partitioned by classes: the plan says which classes each device holds, or refuses a class no device holds. */
class ClassPartitionPlanningTest {
  private static final Config BASE = ConfigFactory.parseString("""
      dsparse.job { model = small-cnn, mode = full, id = classes, checkpoint-dir = "" }
      """).withFallback(ConfigFactory.load());

  private static JobSpec spec(String partition) {
    return JobConfig.read(ConfigFactory.parseString("dsparse.job.partition = \"" + partition + "\"")
        .withFallback(BASE)).spec();
  }

  private static List<DeviceInfo> devices(int n) {
    return IntStream.range(0, n).mapToObj(i -> new DeviceInfo("d" + i, "pekko://dsparse@127.0.0.1:" + (2700 + i),
        1L << 30, null)).toList();
  }

  @Test
  void thePlanSaysWhichClassesEachDeviceHolds() {
    PlannedJob plan = DjlThread.call(() -> JobPlanning.plan(spec("classes:2-4"), devices(7), BASE));
    String text = plan.description();
    assertTrue(text.contains("classes per device (partition classes:2-4)"), text);
    for (int d = 0; d < 7; d++) {
      assertTrue(text.contains("d" + d + ": classes ["), text);
    }
    PlannedJob listed = DjlThread.call(() -> JobPlanning.plan(spec("classes:0+1+2+3+4,5+6+7+8+9"), devices(2), BASE));
    assertTrue(listed.description().contains("d1: classes [5, 6, 7, 8, 9]"), listed.description());
  }

  @Test
  void aClassHeldByNoDeviceIsRefusedAtPlanning() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DjlThread.call(() -> JobPlanning.plan(spec("classes:0+1,2+3+4+5+6+7+8"), devices(2), BASE)));
    assertTrue(e.getMessage().contains("class 9 is held by no device"), e.getMessage());
    IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
        () -> DjlThread.call(() -> JobPlanning.plan(spec("classes:0+1+2+3+4,5+6+7+8+9"), devices(3), BASE)));
    assertEquals(true, count.getMessage().contains("classes of 2 devices, the job has 3"), count.getMessage());
  }
}
