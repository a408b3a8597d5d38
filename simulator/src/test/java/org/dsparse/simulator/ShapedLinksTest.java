package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShapedLinksTest {
  private static final long PROBE_BYTES = 2_000_000;

  @Test
  void linkRatesParseAsTcWritesThem() {
    assertEquals(50_000_000, LinkRate.parse("x", "50mbit"));
    assertEquals(800_000, LinkRate.parse("x", "800kbit"));
    assertEquals(1_500_000_000, LinkRate.parse("x", "1.5gbit"));
    assertEquals(2_000_000, LinkRate.parse("x", " 2 MBit "));
    assertEquals(0, LinkRate.parse("x", "loopback"));
    UsageException e = assertThrows(UsageException.class, () -> LinkRate.parse("devices[1].link", "50mbps"));
    assertTrue(e.getMessage().startsWith("devices[1].link = '50mbps'"), e.getMessage());
    e = assertThrows(UsageException.class, () -> LinkRate.parse("x", "1kbit"));
    assertTrue(e.getMessage().contains("below 8kbit"), e.getMessage());
  }

  @Test
  void aShapedLinkNeedsOneJvmPerDevice(@TempDir Path dir) {
    Config config = ConfigFactory.parseString("""
        dsparse.simulation.devices = [ { name = a }, { name = b, link = 20mbit } ]
        """).withFallback(ConfigFactory.load());
    SimulationConfig simulation = SimulationConfig.read(config);
    assertEquals(20_000_000, simulation.devices().get(1).linkBitsPerSecond());
    UsageException e = assertThrows(UsageException.class,
        () -> new Simulation(simulation, config, dir, line -> { }).run());
    assertTrue(e.getMessage().startsWith("dsparse.simulation.devices[1].link (b)"), e.getMessage());
    assertTrue(e.getMessage().contains("processes = true"), e.getMessage());
    simulation.withProcesses(true).checkLinks();
  }

  @Test
  void classCountersAreReadFromTcText() {
    Map<Integer, Long> sent = ShapedLinks.parseClassBytes("""
        class htb 1:10 root prio 0 rate 8Mbit ceil 8Mbit burst 128Kb cburst 128Kb\s
         Sent 2104592 bytes 61 pkt (dropped 0, overlimits 40 requeues 0)\s
         backlog 0b 0p requeues 0
         lended: 0 borrowed: 0 giants: 0
         tokens: 2048000 ctokens: 2048000

        class htb 1:1 root prio 0 rate 100Gbit ceil 100Gbit burst 1025000b cburst 1025000b\s
         Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\s
        """);
    assertEquals(Map.of(0x10, 2_104_592L, 0x1, 0L), sent);
  }

  /**
   * Inside a namespace of its own: 2 MB to an address shaped to 8 Mbit/s take about 2 s, to an
   * unshaped one a fraction of that, and tc counts at least the 2 MB on the shaped class.
   */
  @Test
  void aShapedAddressIsHeldToItsRate() throws Exception {
    String namespace = "dsparse-test-" + ProcessHandle.current().pid();
    Assumptions.assumeTrue(isRoot(), "shaped links need root: skipped");
    Assumptions.assumeTrue(onPath("ip") && onPath("tc"), "shaped links need ip and tc (iproute2): skipped");
    Assumptions.assumeTrue(exec(List.of("ip", "netns", "add", namespace)) == 0,
        "cannot create a network namespace here: skipped");
    try {
      assertEquals(0, exec(List.of("ip", "-n", namespace, "link", "set", "lo", "up")));
      Map<String, Long> rates = new LinkedHashMap<>();
      rates.put("shaped", 8_000_000L);
      rates.put("free", 0L);
      ShapedLinks links = ShapedLinks.install(rates, namespace);
      Map<String, Long> before = links.bytesReceived();
      long shapedMillis = probe(namespace, ShapedLinks.host(0));
      long freeMillis = probe(namespace, ShapedLinks.host(1));
      Map<String, Long> after = links.bytesReceived();
      System.out.printf("shaped link probe: 2 MB to %s (8 Mbit/s) in %d ms, to %s (unshaped) in %d ms;"
          + " tc counted %s%n", ShapedLinks.host(0), shapedMillis, ShapedLinks.host(1), freeMillis, after);
      assertTrue(shapedMillis >= 1_500 && shapedMillis < 10_000,
          "2 MB at 8 Mbit/s should take about 2 s, took " + shapedMillis + " ms");
      assertTrue(freeMillis * 4 < shapedMillis, "unshaped took " + freeMillis + " ms, shaped " + shapedMillis);
      long shapedBytes = after.get("shaped") - before.get("shaped");
      assertTrue(shapedBytes >= PROBE_BYTES, "tc counted " + shapedBytes + " bytes on the shaped class");
      assertTrue(after.get("free") - before.get("free") >= PROBE_BYTES, after.toString());
      links.close();
    } finally {
      exec(List.of("ip", "netns", "delete", namespace));
    }
  }

  /** Milliseconds to send the probe's bytes to a listener on {@code host}, connecting as a device JVM does. */
  private static long probe(String namespace, String host) throws Exception {
    List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace,
        ProcessHandle.current().info().command().orElse("java")));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), ShapedLinksProbe.class.getName(),
        Long.toString(PROBE_BYTES), host));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0, output);
    String[] words = output.split("\\s+");
    assertEquals(host, words[words.length - 2], "the probe's listener address: " + output);
    return Long.parseLong(words[words.length - 1]);
  }

  private static boolean isRoot() throws Exception {
    return Files.readAllLines(Path.of("/proc/self/status")).stream()
        .anyMatch(line -> line.startsWith("Uid:") && line.split("\\s+")[2].equals("0"));
  }

  private static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  private static int exec(List<String> command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getInputStream().readAllBytes();
    return process.waitFor(30, TimeUnit.SECONDS) ? process.exitValue() : -1;
  }
}
