package org.dsparse.core.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.dsparse.core.memory.OptimizerKind;
import org.junit.jupiter.api.Test;

class PlannerSettingsTest {
  @Test
  void strategiesParseFromConfigurationText() {
    assertEquals(PlanStrategy.SUFFIX, PlanStrategy.parse(" Suffix "));
    assertEquals(PlanStrategy.COMMUNICATION_AWARE, PlanStrategy.parse("communication-aware"));
    String message = assertThrows(IllegalArgumentException.class, () -> PlanStrategy.parse("greedy"))
        .getMessage();
    assertTrue(message.contains("'greedy'"), message);
  }

  @Test
  void invalidKnobsAreRejectedWithTheirName() {
    PlannerSettings d = PlannerSettings.defaults(8, OptimizerKind.SGD);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PlannerSettings(d.strategy(), 0,
        d.optimizer(), 1, 10, d.communication(), 0.5, 0, true, 0.1, 0)).getMessage().contains("batch"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PlannerSettings(d.strategy(), 8,
        d.optimizer(), 1, -1, d.communication(), 0.5, 0, true, 0.1, 0)).getMessage().contains("refresh"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> d.withCommunicationWeight(-0.1))
        .getMessage().contains("communication weight"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> d.withMemoryWeight(-1))
        .getMessage().contains("memory weight"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PlannerSettings(d.strategy(), 8,
        d.optimizer(), 0, 10, d.communication(), 0.5, 0, true, 0.1, 0)).getMessage().contains("averaging"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PlannerSettings(d.strategy(), 8,
        d.optimizer(), 1, 10, d.communication(), 0.5, 0, true, 0, 0)).getMessage().contains("channel fraction"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PlannerSettings(d.strategy(), 8,
        d.optimizer(), 1, 10, d.communication(), 0.5, 0, true, 0.1, -1)).getMessage().contains("shared tail"));
    assertThrows(IllegalArgumentException.class, () -> new CommunicationModel(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> new CommunicationModel(0, 0));
  }

  @Test
  void ringAllReduceAndChainBroadcastFollowTheirFormulas() {
    CommunicationModel net = new CommunicationModel(0.001, 1000);
    assertEquals(0, net.allReduceSeconds(1, 5000));
    // 2(m-1) steps of latency + bytes/m each
    assertEquals(2 * 3 * (0.001 + 4000.0 / 4 / 1000), net.allReduceSeconds(4, 4000), 1e-12);
    assertEquals(0, net.broadcastSeconds(0, 5000));
    assertEquals(3 * 0.001 + 4.0, net.broadcastSeconds(3, 4000), 1e-12);
  }
}
