package org.dsparse.training.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dsparse.training.data.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PretrainingTest {
  private static final OptimizerSpec SGD = OptimizerSpec.sgd(0.05f);

  @Test
  void aCheckpointWithTheSameRecipeIsReusedAndAnyChangeTrainsAgain(@TempDir Path dir) throws Exception {
    Path checkpoint = dir.resolve("pre.ckpt");
    DataSource data = DataSource.parse("embedded", "test");
    Pretraining.Result first = Pretraining.run("small-cnn", data, 0.1, 7, 32, SGD, 1, checkpoint);
    assertFalse(first.reused());
    assertTrue(Files.isRegularFile(checkpoint));
    assertTrue(first.testAccuracy() > 0.1, "one epoch on 400 images beats chance: " + first.testAccuracy());

    Pretraining.Result again = Pretraining.run("small-cnn", data, 0.1, 7, 32, SGD, 1, checkpoint);
    assertTrue(again.reused());
    assertEquals(first.testAccuracy(), again.testAccuracy());
    assertEquals(first.samples(), again.samples());

    Pretraining.Result otherSeed = Pretraining.run("small-cnn", data, 0.1, 8, 32, SGD, 1, checkpoint);
    assertFalse(otherSeed.reused(), "a different seed is a different recipe");
    Files.writeString(checkpoint.resolveSibling("pre.ckpt.recipe"), "garbage");
    assertFalse(Pretraining.run("small-cnn", data, 0.1, 8, 32, SGD, 1, checkpoint).reused(),
        "an unreadable recipe trains again");
    assertTrue(Pretraining.run("small-cnn", data, 0.1, 8, 32, SGD, 1, checkpoint).reused());
    byte[] bytes = Files.readAllBytes(checkpoint);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(checkpoint, bytes);
    assertFalse(Pretraining.run("small-cnn", data, 0.1, 8, 32, SGD, 1, checkpoint).reused(),
        "a checkpoint damaged since it was made is made again");
    assertTrue(Pretraining.run("small-cnn", data, 0.1, 8, 32, SGD, 1, checkpoint).reused());
  }
}
