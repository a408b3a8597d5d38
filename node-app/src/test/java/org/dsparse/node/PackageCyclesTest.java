package org.dsparse.node;

import org.dsparse.core.PackageRules;

/** The packages of {@code org.dsparse.node} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.node");
  }
}
