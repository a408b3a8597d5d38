package org.dsparse.core.cli;

/** What {@code --version} prints: the application's name and the version its jar's manifest records. */
public final class Version {
  private Version() {}

  /**
   * {@code "node-app 0.1.0-SNAPSHOT (Java 17.0.15, linux aarch64)"}; a class run outside its jar
   * (tests, an IDE) has no manifest version and says {@code development build}.
   */
  public static String of(String application, Class<?> mainClass) {
    String version = mainClass.getPackage() == null ? null : mainClass.getPackage().getImplementationVersion();
    return application + " " + (version == null ? "development build" : version) + " (Java "
        + System.getProperty("java.version") + ", " + System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT)
        + " " + System.getProperty("os.arch") + ")";
  }
}
