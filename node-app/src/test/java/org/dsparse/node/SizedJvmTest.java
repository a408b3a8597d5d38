package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.lab.JvmSizing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SizedJvmTest {
  private static final List<String> JAVA = List.of("/opt/jdk/bin/java");
  private static final SizedJvm.Ram TWO_GIB = new SizedJvm.Ram(2L << 30, "cgroup limit");
  private static final List<String> ARGS = List.of("start", "--name", "pi4-a");

  private static SizedJvm.ThisJvm jvm(List<String> inputArguments, boolean sized) {
    return new SizedJvm.ThisJvm(JAVA, inputArguments, "node-app.jar:lib/a.jar", NodeMain.class.getName(), sized,
        4L << 30);
  }

  @Test
  void optionsGoAfterTheJavaExecutableAndBeforeTheClassPathWithTheSameArguments() {
    var relaunch = assertInstanceOf(SizedJvm.Relaunch.class, SizedJvm.decide(null, null,
        jvm(List.of("-Dai.djl.offline=true"), false), TWO_GIB, null, ARGS));
    List<String> expected = new ArrayList<>(JAVA);
    expected.addAll(JvmSizing.forRam(2L << 30).options());
    expected.add("-Dai.djl.offline=true");
    expected.addAll(List.of("-cp", "node-app.jar:lib/a.jar", NodeMain.class.getName(), "start", "--name", "pi4-a"));
    assertEquals(expected, relaunch.command());
    assertTrue(relaunch.command().contains("-Xmx512m") && relaunch.command().contains("-D" + JvmSizing.CHOSEN_PROPERTY
        + "=true"), relaunch.command().toString());
    assertEquals("node-app: JVM for 2048 MiB of RAM (cgroup limit): " + JvmSizing.forRam(2L << 30).describe()
        + "; restarting in it (--jvm as-is keeps this one)", relaunch.line());
  }

  @Test
  void theEmulatorsCommandStartsTheChild() {
    var qemu = new SizedJvm.ThisJvm(List.of("qemu-aarch64-static", "/usr/lib/jvm/arm64/bin/java"), List.of(), "cp",
        "Main", false, 1L << 30);
    var relaunch = assertInstanceOf(SizedJvm.Relaunch.class, SizedJvm.decide(null, null, qemu, TWO_GIB, null, ARGS));
    assertEquals(List.of("qemu-aarch64-static", "/usr/lib/jvm/arm64/bin/java", "-Xms512m"),
        relaunch.command().subList(0, 3));
  }

  @Test
  void anEmulatedJvmWithoutItsCommandIsKept() {
    var qemu = new SizedJvm.ThisJvm(List.of("/usr/bin/qemu-aarch64-static"), List.of(), "cp", "Main", false, 1L << 30);
    var keep = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, null, qemu, TWO_GIB, null, ARGS));
    assertTrue(keep.line().contains("it runs under qemu-aarch64-static; -Ddsparse.jvm.command="), keep.line());
  }

  @Test
  void aHeapOfTheUsersKeepsTheJvm() {
    for (String heap : List.of("-Xmx2g", "-Xms300m", "-XX:MaxRAMPercentage=50")) {
      var keep = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, null, jvm(List.of("-Dx=1", heap), false),
          TWO_GIB, null, ARGS));
      assertEquals("node-app: JVM kept as started (heap at most 4096 MiB): it was started with " + heap, keep.line());
    }
  }

  @Test
  void aSizedJvmDoesNotChooseAgainAndSaysNothing() {
    var keep = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, null, jvm(List.of(), true), TWO_GIB, null,
        ARGS));
    assertNull(keep.line());
  }

  @Test
  void asIsByFlagOrEnvironmentKeepsTheJvmInOneLine() {
    var byFlag = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide("as-is", "sized", jvm(List.of(), false),
        TWO_GIB, null, ARGS));
    assertTrue(byFlag.line().endsWith("--jvm as-is"), byFlag.line());
    var byEnv = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, "as-is", jvm(List.of(), false), TWO_GIB,
        null, ARGS));
    assertTrue(byEnv.line().endsWith("DSPARSE_JVM=as-is"), byEnv.line());
    assertInstanceOf(SizedJvm.Relaunch.class, SizedJvm.decide("sized", "as-is", jvm(List.of(), false), TWO_GIB, null,
        ARGS));
  }

  @Test
  void aBadChoiceIsOneLineEvenInASizedJvm() {
    UsageException e = assertThrows(UsageException.class, () -> SizedJvm.decide("big", null, jvm(List.of(), true),
        TWO_GIB, null, ARGS));
    assertTrue(e.getMessage().startsWith("--jvm 'big': expected sized"), e.getMessage());
    e = assertThrows(UsageException.class, () -> SizedJvm.decide(null, "asis", jvm(List.of(), false), TWO_GIB, null,
        ARGS));
    assertTrue(e.getMessage().startsWith("DSPARSE_JVM='asis'"), e.getMessage());
  }

  @Test
  void theUsersOwnOptionsReplaceOursAndAreNamed() {
    var relaunch = assertInstanceOf(SizedJvm.Relaunch.class, SizedJvm.decide(null, null,
        jvm(List.of("-XX:+UseG1GC", "-Xss1m", "-XX:TieredStopAtLevel=1"), false), TWO_GIB, null, ARGS));
    assertTrue(!relaunch.command().contains("-XX:+UseSerialGC") && !relaunch.command().contains("-Xss512k")
        && relaunch.command().contains("-XX:+UseG1GC"), relaunch.command().toString());
    assertEquals(1, relaunch.command().stream().filter(o -> o.startsWith("-XX:TieredStopAtLevel")).count());
    assertTrue(relaunch.line().endsWith("; yours kept: -XX:+UseG1GC -Xss1m; restarting in it (--jvm as-is keeps"
        + " this one)"), relaunch.line());
  }

  @Test
  void aDebuggedOrUnmeasurableJvmIsKept() {
    var debugged = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, null,
        jvm(List.of("-agentlib:jdwp=transport=dt_socket,address=5005"), false), TWO_GIB, null, ARGS));
    assertTrue(debugged.line().contains("a debugger is attached"), debugged.line());
    var unknown = assertInstanceOf(SizedJvm.Keep.class, SizedJvm.decide(null, null, jvm(List.of(), false), null,
        "no /proc/meminfo", ARGS));
    assertTrue(unknown.line().endsWith("cannot tell this machine's RAM (no /proc/meminfo)"), unknown.line());
  }

  @Test
  void memTotalIsReadInBytes() {
    assertEquals(1024L * 3_884_500, SizedJvm.memTotal("MemTotal:        3884500 kB\nMemFree:  1 kB\n"));
    assertEquals(0, SizedJvm.memTotal("MemFree:  1 kB\n"));
  }

  /**
   * A real {@code node-app start} in a JVM that was not sized: it prints the JVM line, restarts once, and
   * the node's start-up line shows the heap the line chose; SIGTERM to the first JVM stops both.
   */
  @Test
  void startRestartsOnceInTheSizedJvm(@TempDir Path dir) throws Exception {
    Path open = Files.writeString(dir.resolve("open.conf"), "dsparse.tls.enabled = off\ndsparse.metrics.port = 0\n");
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command = List.of(ProcessHandle.current().info().command().orElse("java"),
        "-Dlogback.configurationFile=" + Path.of("..", ".mvn", "logback-test.xml").toAbsolutePath().normalize(),
        "-cp", classpath, NodeMain.class.getName(), "start", "--config", open.toString(), "--port",
        String.valueOf(port), "--name", "sized", "--budget", "128MiB");
    Path log = dir.resolve("out.log");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().remove(SizedJvm.ENV);
    Process parent = builder.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(log).contains(" is up") && parent.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      String output = Files.readString(log, StandardCharsets.UTF_8);
      List<String> jvmLines = output.lines().filter(l -> l.startsWith("node-app: JVM")).toList();
      assertEquals(1, jvmLines.size(), output);
      Matcher m = Pattern.compile("^node-app: JVM for (\\d+) MiB of RAM \\((cgroup limit|MemTotal)\\): heap (\\d+) MiB"
          + " \\(pre-touched\\), C1 only, serial GC").matcher(jvmLines.get(0));
      assertTrue(m.find(), jvmLines.get(0));
      long heapMib = JvmSizing.forRam(Long.parseLong(m.group(1)) << 20).heapBytes() >> 20;
      assertEquals(heapMib, Long.parseLong(m.group(3)), jvmLines.get(0));
      String up = output.lines().filter(l -> l.contains(" is up")).findFirst()
          .orElseThrow(() -> new AssertionError("no start-up line:\n" + output));
      assertTrue(up.contains(", heap " + heapMib + " MiB"), up);
      List<ProcessHandle> children = parent.children().toList();
      assertEquals(1, children.size(), "one sized JVM");
      String childCommand = children.get(0).info().commandLine().orElse("");
      assertTrue(childCommand.contains("-Xmx" + heapMib + "m") && childCommand.contains("-Ddsparse.jvm.sized=true"),
          childCommand);
      parent.destroy();
      assertTrue(parent.waitFor(60, TimeUnit.SECONDS), "the first JVM did not stop");
      assertTrue(children.get(0).onExit().get(10, TimeUnit.SECONDS) != null && !children.get(0).isAlive(),
          "the sized JVM outlived the first");
    } finally {
      parent.descendants().forEach(ProcessHandle::destroyForcibly);
      parent.destroyForcibly().waitFor();
    }
  }

  @Test
  void startHelpDoesNotRestart() throws IOException, InterruptedException {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp", classpath,
        NodeMain.class.getName(), "start", "--help").redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, output);
    assertTrue(output.contains("--jvm as-is|sized") && !output.contains("node-app: JVM"), output);
  }
}
