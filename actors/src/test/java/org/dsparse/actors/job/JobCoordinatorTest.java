package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.dsparse.actors.node.LocalCluster;
import org.junit.jupiter.api.Test;

class JobSmokeTest {
  @Test
  void threeDevicesTrainASmallCnn() throws Exception {
    Config base = ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, devices = 3, max-steps-per-epoch = 6, epochs = 2, checkpoint-dir = "" }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    try (LocalCluster cluster = LocalCluster.start(base, List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "14MiB"), new LocalCluster.Member("c", "9MiB")), Duration.ofSeconds(30))) {
      JobConfig job = JobConfig.read(base);
      JobEvent end = cluster.node(0).submit(job, e -> System.out.println("EVENT " + e)).get(120, TimeUnit.SECONDS);
      System.out.println("END " + end);
      assertTrue(end instanceof JobEvent.Succeeded, end.toString());
    }
  }
}
