package org.dsparse.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What every module's {@code PackageCyclesTest} checks of its main classes, as core's purity is
 * checked by its build: its packages form no cycle, and each has a package-info. A module's test
 * extends this with its root package. (In core's test jar, which every other module's tests use.)
 *
 * <p>Every package is its own slice: {@code org.dsparse.(**)} captures the whole package name, so a
 * package and its sub-packages (e.g. {@code org.dsparse.simulator} and {@code
 * org.dsparse.simulator.bench}) are different slices; {@code org.dsparse.simulator.(**)} would leave
 * out the module's root package and {@code (*)..} would merge sub-packages into their parent. Only the
 * module's own classes are imported, so other modules' packages are no slices.
 */
public abstract class PackageRules {
  private final String modulePackage;

  /** The rules for the main classes under {@code modulePackage}, the module's root package. */
  protected PackageRules(String modulePackage) {
    this.modulePackage = modulePackage;
  }

  @Test
  public void packagesAreFreeOfCycles() {
    assertFreeOfCycles(modulePackage);
  }

  @Test
  public void everyPackageHasAPackageInfo() {
    assertEveryPackageHasAPackageInfo(modulePackage);
  }

  /** The main classes under {@code modulePackage}, tests left out. */
  private static JavaClasses mainClasses(String modulePackage) {
    JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(modulePackage);
    assertFalse(classes.isEmpty(), "no main class of " + modulePackage + " was found");
    return classes;
  }

  /** Fails naming each cycle among the packages of {@code modulePackage}, with a dependency of each step. */
  public static void assertFreeOfCycles(String modulePackage) {
    SlicesRuleDefinition.slices().matching("org.dsparse.(**)").namingSlices("org.dsparse.$1")
        .as("the packages of " + modulePackage + " (main classes)")
        .should().beFreeOfCycles()
        .because("a package of " + modulePackage + " may only depend on packages that do not depend back on it")
        .check(mainClasses(modulePackage));
  }

  /** Fails naming each package of {@code modulePackage} without a package-info.java in the module's sources. */
  public static void assertEveryPackageHasAPackageInfo(String modulePackage) {
    Path sources = Path.of(System.getProperty("basedir", "."), "src", "main", "java");
    Set<String> packages = mainClasses(modulePackage).stream().map(JavaClass::getPackageName)
        .collect(Collectors.toCollection(TreeSet::new));
    Set<String> missing = packages.stream()
        .filter(p -> !Files.isRegularFile(sources.resolve(p.replace('.', '/')).resolve("package-info.java")))
        .collect(Collectors.toCollection(TreeSet::new));
    assertTrue(missing.isEmpty(), "packages of " + modulePackage + " without a package-info.java in "
        + sources + ": " + missing);
  }
}
