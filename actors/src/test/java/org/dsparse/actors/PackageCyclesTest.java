package org.dsparse.actors;

import org.dsparse.core.PackageRules;

/** The packages of {@code org.dsparse.actors} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.actors");
  }
}
