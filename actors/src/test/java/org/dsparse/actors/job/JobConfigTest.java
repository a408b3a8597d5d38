package org.dsparse.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;

class JobConfigTest {
  private static Config with(String override) {
    return ConfigFactory.parseString(override).withFallback(ConfigFactory.load()).resolve();
  }

  @Test
  void theDefaultsDescribeAValidJobWithAMicroBatchedFrozenPrefix() {
    JobConfig job = JobConfig.read(ConfigFactory.load());
    assertEquals(8, job.spec().frozenPrefixMicroBatch());
    assertTrue(job.elasticity().enabled(), "jobs survive lost devices by default");
    assertEquals(3, job.elasticity().maxRecoveriesWithoutProgress());
    assertEquals(0, JobConfig.read(with("dsparse.job.frozen-prefix-micro-batch = 0")).spec().frozenPrefixMicroBatch());
  }

  @Test
  void aBadValueIsRefusedNamingItsKey() {
    for (String bad : new String[] {"frozen-prefix-micro-batch = -1", "batch = 0", "planner.shared-tail-layers = -2",
        "partition = \"by-label\"", "optimizer = rmsprop",
        "learning-rate-scaling = linear", "elastic.abandon-timeout = 0s", "elastic.removal-wait = -1s",
        "elastic.max-recoveries-without-progress = 0"}) {
      UsageException e = assertThrows(UsageException.class, () -> JobConfig.read(with("dsparse.job." + bad)));
      String key = bad.substring(0, bad.indexOf(' '));
      assertTrue(e.getMessage().contains("dsparse.job." + key), bad + " -> " + e.getMessage());
    }
  }
}
