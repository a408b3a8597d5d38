package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;

class BaselineTest {
  private static final long MIB = 1 << 20;

  private static SimulationConfig read(String text) {
    return SimulationConfig.read(ConfigFactory.parseString(text).withFallback(ConfigFactory.load()));
  }

  @Test
  void baselinesAreReadInTheirOrderAndNoneByDefault() {
    assertEquals(List.of(), read("").baselines());
    assertEquals(List.of(Baseline.UNIFORM_TAIL, Baseline.FULL_WHERE_FITS),
        read("dsparse.simulation.baselines = [uniform-tail, \" Full-Where-Fits \"]").baselines());
  }

  @Test
  void aBadBaselineIsOneLineNamingTheKey() {
    for (String bad : List.of("[full-where-fits, turbo]", "[uniform-tail, uniform-tail]", "uniform-tail",
        "[{ name = uniform-tail }]")) {
      UsageException e = assertThrows(UsageException.class, () -> read("dsparse.simulation.baselines = " + bad), bad);
      assertTrue(e.getMessage().startsWith("dsparse.simulation.baselines"), bad + " -> " + e.getMessage());
      assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
    UsageException unknown = assertThrows(UsageException.class,
        () -> read("dsparse.simulation.baselines = [full-where-fits, turbo]"));
    assertEquals("dsparse.simulation.baselines: 'turbo' is neither full-where-fits nor uniform-tail",
        unknown.getMessage());
    UsageException noDsparse = assertThrows(UsageException.class,
        () -> read("dsparse.simulation { modes = [full], baselines = [uniform-tail] }"));
    assertTrue(noDsparse.getMessage().startsWith("dsparse.simulation.baselines = [uniform-tail]")
        && noDsparse.getMessage().contains("modes has no dsparse"), noDsparse.getMessage());
  }

  /** bench/dsparse runs both baselines; bench/overlap, which includes its config, runs the full update alone. */
  @Test
  void theShippedBenchConfigsReadWithTheirBaselines() {
    java.util.function.Function<String, SimulationConfig> shipped = name -> SimulationConfig.read(ConfigFactory
        .parseFile(java.nio.file.Path.of("..", "conf", name).toFile()).withFallback(ConfigFactory.load()).resolve());
    assertEquals(List.of(Baseline.FULL_WHERE_FITS, Baseline.UNIFORM_TAIL), shipped.apply("bench-dsparse.conf").baselines());
    assertEquals(List.of(), shipped.apply("bench-overlap.conf").baselines());
  }

  @Test
  void theFullUpdateRunsWhereTheBudgetHoldsItsPeak() {
    Map<String, Long> budgets = Map.of("pi3", 40 * MIB, "pi4", 104 * MIB, "jetson", 232 * MIB, "nuc", 103 * MIB);
    Baseline.Subset fits = Baseline.whereFullFits(List.of("pi3", "pi4", "jetson", "nuc"), budgets, 104 * MIB);
    assertEquals(List.of("pi4", "jetson"), fits.devices(), "a budget exactly at the peak holds it");
    assertTrue(fits.note().contains("pi4, jetson") && fits.note().contains("without pi3, nuc"), fits.note());

    Baseline.Subset every = Baseline.whereFullFits(List.of("pi4", "jetson"), budgets, 104 * MIB);
    assertEquals(List.of("pi4", "jetson"), every.devices());
    assertTrue(every.note().contains("every device"), every.note());

    Baseline.Subset none = Baseline.whereFullFits(List.of("pi3", "nuc"), budgets, 104 * MIB);
    assertEquals(List.of(), none.devices());
    assertEquals("no device's budget holds the full update's predicted 104.0 MiB (the largest, nuc, has 103.0 MiB)",
        none.note());

    // A device the compared run did not report (it left the job) has no budget to hold anything.
    assertEquals(List.of("jetson"), Baseline.whereFullFits(List.of("gone", "jetson"), budgets, 104 * MIB).devices());
  }
}
