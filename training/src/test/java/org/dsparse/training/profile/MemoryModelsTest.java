package org.dsparse.training.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.dsparse.core.memory.MemoryCoefficients;
import org.junit.jupiter.api.Test;

class MemoryModelsTest {
  @Test
  void aClusterDeviceCarriesTheClusterOverheadOnTopOfTheProcessAlone() {
    Config config = ConfigFactory.parseString("""
        dsparse.memory-model { fixed-overhead = 1MiB, cluster-overhead = 3MiB }
        """).withFallback(ConfigFactory.load());
    MemoryCoefficients alone = MemoryModels.coefficients(config);
    MemoryCoefficients inCluster = MemoryModels.clusterDeviceCoefficients(config);
    assertEquals(1L << 20, alone.fixedOverheadBytes());
    assertEquals(4L << 20, inCluster.fixedOverheadBytes());
    assertEquals(alone.updatedActivationFactor(), inCluster.updatedActivationFactor());
    assertEquals(alone.prefixPeakFactor(), inCluster.prefixPeakFactor());
  }

  @Test
  void aBadClusterOverheadIsNamed() {
    for (String value : new String[] {"-1MiB", "lots"}) {
      Config config = ConfigFactory.parseString("dsparse.memory-model.cluster-overhead = \"" + value + "\"")
          .withFallback(ConfigFactory.load());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> MemoryModels.clusterDeviceCoefficients(config));
      assertTrue(e.getMessage().contains("cluster-overhead"), e.getMessage());
    }
  }
}
