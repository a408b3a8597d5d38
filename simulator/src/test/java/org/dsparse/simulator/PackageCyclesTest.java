package org.dsparse.simulator;

import org.dsparse.core.PackageRules;

/** The packages of {@code org.dsparse.simulator} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.simulator");
  }
}
