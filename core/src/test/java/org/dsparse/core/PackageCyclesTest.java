package org.dsparse.core;

/** The packages of {@code org.dsparse.core} form no cycle, and each has a package-info. */
class PackageCyclesTest extends PackageRules {
  PackageCyclesTest() {
    super("org.dsparse.core");
  }
}
