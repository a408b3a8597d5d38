package org.dsparse.actors;

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
 * The packages of {@code org.dsparse.actors} (main classes only) form no cycle, and each has a package-info.
 *
 * <p>Every package is its own slice: {@code org.dsparse.(**)} captures the whole package name, so a
 * package and its sub-packages (e.g. {@code org.dsparse.actors.mode} and {@code
 * org.dsparse.actors.bench}) are different slices; {@code org.dsparse.actors.(**)} would leave out the
 * module's root package and {@code (*)..} would merge sub-packages into their parent. Only classes
 * of {@code org.dsparse.actors} are imported, so other modules' packages are no slices here. The same test,
 * with its package changed, is in every module but actors.
 */
class PackageCyclesTest {
  private static final String MODULE_PACKAGE = "org.dsparse.actors";

  private static final JavaClasses MAIN_CLASSES = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages(MODULE_PACKAGE);

  @Test
  void packagesAreFreeOfCycles() {
    assertFalse(MAIN_CLASSES.isEmpty(), "no main class of " + MODULE_PACKAGE + " was found");
    SlicesRuleDefinition.slices().matching("org.dsparse.(**)").namingSlices("org.dsparse.$1")
        .as("the packages of " + MODULE_PACKAGE + " (main classes)")
        .should().beFreeOfCycles()
        .because("a package of " + MODULE_PACKAGE + " may only depend on packages that do not depend back on it")
        .check(MAIN_CLASSES);
  }

  @Test
  void everyPackageHasAPackageInfo() {
    Path sources = Path.of(System.getProperty("basedir", "."), "src", "main", "java");
    Set<String> packages = MAIN_CLASSES.stream().map(JavaClass::getPackageName)
        .collect(Collectors.toCollection(TreeSet::new));
    Set<String> missing = packages.stream()
        .filter(p -> !Files.isRegularFile(sources.resolve(p.replace('.', '/')).resolve("package-info.java")))
        .collect(Collectors.toCollection(TreeSet::new));
    assertFalse(packages.isEmpty(), "no main class of " + MODULE_PACKAGE + " was found");
    assertTrue(missing.isEmpty(), "packages of " + MODULE_PACKAGE + " without a package-info.java in "
        + sources + ": " + missing);
  }
}
