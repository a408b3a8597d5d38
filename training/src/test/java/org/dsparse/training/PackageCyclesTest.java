package org.dsparse.training;

import org.dsparse.core.PackageRules;

/** The packages of {@code org.dsparse.training} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.training");
  }
}
