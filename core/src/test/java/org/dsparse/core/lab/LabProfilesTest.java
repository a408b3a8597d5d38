package org.dsparse.core.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalLong;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;

class LabProfilesTest {

  @Test
  void theDefaultLabFitsTheMachineWithoutOversubscribingIt() {
    List<LabProfile> lab = LabProfiles.DEFAULT_LAB.stream().map(n -> LabProfiles.named(n, "test")).toList();
    assertEquals(7, lab.size());
    double cores = LabProfiles.cores(lab);
    assertTrue(cores <= 1.8 + 1e-9, "quotas sum to " + cores + " cores, at most 1.8 of the machine's 2");
    long memory = lab.stream().mapToLong(LabProfile::memoryLimitBytes).sum();
    assertTrue(memory < 8L << 30, "the lab's memory limits fit a 24 GiB machine with room: " + memory);
  }

  @Test
  void quotasKeepTheBoardsSpeedRatios() {
    LabProfile pi3 = LabProfiles.named("pi3-1g", "t");
    LabProfile pi4 = LabProfiles.named("pi4-2g", "t");
    LabProfile nuc = LabProfiles.named("nuc-8g", "t");
    assertEquals(pi4.relativeSpeed() / pi3.relativeSpeed(), pi4.cpuCores() / pi3.cpuCores(), 1e-9);
    assertEquals(nuc.relativeSpeed() / pi3.relativeSpeed(), nuc.cpuCores() / pi3.cpuCores(), 1e-9);
    // More RAM on the board, a higher limit in the lab; the same board with more RAM, only memory differs.
    LabProfile pi4small = LabProfiles.named("pi4-1g", "t");
    assertTrue(pi4.memoryLimitBytes() > pi4small.memoryLimitBytes());
    assertEquals(pi4.cpuCores(), pi4small.cpuCores(), 1e-12);
  }

  @Test
  void anUnknownProfileNamesTheKeyAndTheKnownOnes() {
    UsageException e = assertThrows(UsageException.class, () -> LabProfiles.named("pi5-16g", "devices[2].profile"));
    assertTrue(e.getMessage().startsWith("devices[2].profile = 'pi5-16g'"), e.getMessage());
    assertTrue(e.getMessage().contains("pi4-2g") && e.getMessage().contains("nuc-8g"), e.getMessage());
  }

  @Test
  void theCfsQuotaIsTheCoreShareOfThePeriodAndNeverBelowTheKernelsMinimum() {
    LabProfile pi3 = LabProfiles.named("pi3-1g", "t");
    assertEquals(100_000, pi3.cfsPeriodMicros());
    assertEquals(12_000, pi3.cfsQuotaMicros());
    // A share too small for 1 ms of 100: the period grows so that the share holds.
    LabProfile slow = new LabProfile("x", "x", 1 << 30, 0.005, 0, 1);
    assertEquals(200_000, slow.cfsPeriodMicros());
    assertEquals(1_000, slow.cfsQuotaMicros());
    // Shares below 1 ms a second are clamped to the kernel's limits: 1 ms of 1 s.
    LabProfile tiny = new LabProfile("x", "x", 1 << 30, 0.0001, 0, 1);
    assertEquals(1_000_000, tiny.cfsPeriodMicros());
    assertEquals(1_000, tiny.cfsQuotaMicros());
  }

  @Test
  void theHeapIsAQuarterOfTheRamBetweenItsBounds() {
    assertEquals(JvmSizing.MIN_HEAP, JvmSizing.forRam(384L << 20).heapBytes());
    assertEquals(512L << 20, JvmSizing.forRam(2L << 30).heapBytes());
    assertEquals(JvmSizing.MAX_HEAP, JvmSizing.forRam(16L << 30).heapBytes());
    List<String> options = JvmSizing.forRam(2L << 30).options();
    assertTrue(options.containsAll(List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch", "-XX:TieredStopAtLevel=1")),
        options.toString());
    assertTrue(options.contains("-D" + JvmSizing.CHOSEN_PROPERTY + "=true"), "a sized JVM does not size itself again");
  }

  @Test
  void theRoomIsTheSmallerOfTheMachinesAndTheCgroupsLessTheRuntimeReserve() {
    long mib = 1L << 20;
    // In a 384 MiB cgroup on a big machine: the limit less what the process holds decides.
    MemoryRoom lab = MemoryRoom.of(20_000 * mib, 512 * mib, OptionalLong.of(418 * mib), 271 * mib, 72 * mib, 32 * mib);
    assertEquals(40 * mib, lab.budgetBytes(), "43 MiB of room, in whole 4 MiB");
    // What the process holds varies a little from start to start; the budget does not.
    assertEquals(40 * mib, MemoryRoom.of(20_000 * mib, 512 * mib, OptionalLong.of(418 * mib), 272 * mib + 512 * 1024,
        72 * mib, 32 * mib).budgetBytes());
    assertTrue(lab.explanation().contains("cgroup limit 418 MiB"), lab.explanation());
    // On a board without a limit: MemAvailable less the reserve (the process is already out of it).
    MemoryRoom board = MemoryRoom.of(900 * mib, 200 * mib, OptionalLong.empty(), 271 * mib, 72 * mib, 32 * mib);
    assertEquals(628 * mib, board.budgetBytes());
    assertTrue(board.explanation().contains("MemAvailable 900 MiB"), board.explanation());
    // A limit looser than the machine's room does not raise it.
    MemoryRoom loose = MemoryRoom.of(500 * mib, 100 * mib, OptionalLong.of(8192 * mib), 271 * mib, 0, 32 * mib);
    assertEquals(400 * mib, loose.budgetBytes());
  }
}
