package org.dsparse.protocol;

import org.dsparse.core.PackageRules;

/** The packages of {@code org.dsparse.protocol} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.protocol");
  }
}
