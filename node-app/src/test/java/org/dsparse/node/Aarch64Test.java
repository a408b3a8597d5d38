package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * node-app on 64-bit ARM: {@code tools/aarch64-check} runs a 2-device job with one device on an
 * aarch64 JVM under qemu user-mode emulation, and {@code profile} there. Skipped, saying why, where
 * the emulator or the arm64 JVM is not installed.
 */
class Aarch64Test {
  @Test
  void nodeAppTrainsOnAnEmulatedAarch64JvmBesideAnX86One() throws IOException, InterruptedException {
    Path script = Path.of("..", "tools", "aarch64-check").toAbsolutePath().normalize();
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Path output = Files.createTempFile("aarch64-check", ".log");
    Process check = new ProcessBuilder("bash", script.toString(), "--classpath", classpath)
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
    if (!check.waitFor(40, TimeUnit.MINUTES)) {
      check.destroyForcibly().waitFor();
    }
    String log = Files.readString(output, StandardCharsets.UTF_8);
    Files.deleteIfExists(output);
    Assumptions.assumeFalse(check.exitValue() == 77, () -> log.strip());
    assertEquals(0, check.exitValue(), log);
  }
}
