package org.dsparse.core;

import org.junit.jupiter.api.Test;

/** The packages of {@code org.dsparse.core} form no cycle, and each has a package-info ({@code PackageRules}). */
class PackageCyclesTest {
  private static final String MODULE_PACKAGE = "org.dsparse.core";

  @Test
  void packagesAreFreeOfCycles() {
    PackageRules.assertFreeOfCycles(MODULE_PACKAGE);
  }

  @Test
  void everyPackageHasAPackageInfo() {
    PackageRules.assertEveryPackageHasAPackageInfo(MODULE_PACKAGE);
  }
}
