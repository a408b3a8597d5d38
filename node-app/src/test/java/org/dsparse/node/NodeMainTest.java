package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;

class NodeMainTest {
  @Test
  void seedNodesAcceptHostPortOrFullAddresses() {
    assertEquals(List.of("pekko://dsparse@10.0.0.1:25520", "pekko://dsparse@pi4:2552"),
        NodeMain.seedNodes("10.0.0.1:25520, pekko://dsparse@pi4:2552"));
  }

  @Test
  void badFlagsAreNamed() {
    UsageException e = assertThrows(UsageException.class, () -> NodeMain.seedNodes("pi4"));
    assertTrue(e.getMessage().contains("'pi4' is not host:port"), e.getMessage());
    e = assertThrows(UsageException.class, () -> NodeMain.start(new String[] {"--bogus", "1"}, false));
    assertTrue(e.getMessage().contains("--bogus") && e.getMessage().contains("--seed-nodes"), e.getMessage());
    e = assertThrows(UsageException.class, () -> NodeMain.start(new String[] {"--config", "/nonexistent.conf"}, false));
    assertTrue(e.getMessage().contains("/nonexistent.conf"), e.getMessage());
    e = assertThrows(UsageException.class, () -> NodeMain.start(new String[] {"--port", "x"}, false));
    assertTrue(e.getMessage().contains("--port"), e.getMessage());
    e = assertThrows(UsageException.class, () -> NodeMain.start(new String[] {"--budget", "lots"}, false));
    assertTrue(e.getMessage().contains("memory-budget"), e.getMessage());
  }
}
