package org.dsparse.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/** The PyTorch engine must load from the Maven Central jars alone, with DJL's network use off. */
class EngineOfflineTest {

  @Test
  void pytorchEngineLoadsOffline() {
    assertEquals("true", System.getProperty("ai.djl.offline"), "tests must run with ai.djl.offline=true");
    Engine engine = Engine.getEngine("PyTorch");
    assertEquals("PyTorch", engine.getEngineName());
    try (NDManager manager = engine.newBaseManager()) {
      NDArray a = manager.create(new float[] {1, 2, 3});
      assertArrayEquals(new float[] {2, 4, 6}, a.mul(2).toFloatArray());
    }
  }
}
