package org.dsparse.training;

import org.dsparse.core.PackageRules;
import org.junit.jupiter.api.Test;

/** The packages of {@code org.dsparse.training} form no cycle, and each has a package-info ({@code PackageRules}). */
class PackageCyclesTest {
  private static final String MODULE_PACKAGE = "org.dsparse.training";

  @Test
  void packagesAreFreeOfCycles() {
    PackageRules.assertFreeOfCycles(MODULE_PACKAGE);
  }

  @Test
  void everyPackageHasAPackageInfo() {
    PackageRules.assertEveryPackageHasAPackageInfo(MODULE_PACKAGE);
  }
}
