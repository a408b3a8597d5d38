package org.dsparse.core.cli;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Entry of a self-contained application jar ({@code node-app-all.jar}, {@code simulator-all.jar}): the
 * jar holds the application's jars, unchanged, under {@code lib/}, and this class (its Main-Class)
 * runs the application's main class, named by the manifest's {@value #MAIN_ATTRIBUTE}, on them.
 *
 * <p>Why not one merged ("shaded") jar: PyTorch's native library comes in one jar per platform, each
 * describing itself in a file of the same name ({@code native/lib/pytorch.properties}), which DJL
 * reads from every jar to choose the one matching the machine. Merged, one file would hide the
 * other and the jar would run on one platform only. Kept apart, the jars also keep their own
 * {@code reference.conf} files, which Typesafe Config merges when it loads them.
 *
 * <p>The nested jars are copied once into a cache folder named after this jar's size and time
 * ({@code dsparse.jar-cache}, default {@code $XDG_CACHE_HOME/dsparse} or {@code ~/.cache/dsparse}),
 * and {@code java.class.path} is set to them, so that JVMs the application starts (the simulator's
 * devices, the memory profiler) run from the same jars.
 */
public final class NestedJarLauncher {
  /** The manifest attribute naming the application's main class. */
  public static final String MAIN_ATTRIBUTE = "Dsparse-Main-Class";
  private static final String NESTED = "lib/";

  private NestedJarLauncher() {}

  public static void main(String[] args) throws Throwable {
    Path jar;
    String mainClass;
    List<Path> classPath;
    try {
      jar = Path.of(NestedJarLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      try (JarFile file = new JarFile(jar.toFile())) {
        mainClass = file.getManifest() == null ? null
            : file.getManifest().getMainAttributes().getValue(new Attributes.Name(MAIN_ATTRIBUTE));
        if (mainClass == null) {
          throw new IOException(jar + " names no " + MAIN_ATTRIBUTE + " in its manifest");
        }
        classPath = extract(file, cacheFolder(jar));
      }
    } catch (IOException | java.net.URISyntaxException | RuntimeException e) {
      System.err.println("dsparse: cannot unpack the application's jars: " + e.getMessage()
          + " (set -Ddsparse.jar-cache=DIR to a writable folder)");
      System.exit(2);
      return;
    }
    System.setProperty("java.class.path", String.join(File.pathSeparator,
        classPath.stream().map(Path::toString).toList()));
    URL[] urls = new URL[classPath.size()];
    for (int i = 0; i < urls.length; i++) {
      urls[i] = classPath.get(i).toUri().toURL();
    }
    ClassLoader loader = new URLClassLoader("dsparse", urls, ClassLoader.getPlatformClassLoader());
    Thread.currentThread().setContextClassLoader(loader);
    Method main = Class.forName(mainClass, true, loader).getMethod("main", String[].class);
    try {
      main.invoke(null, (Object) args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** Where this jar's nested jars are unpacked: one folder per jar build, so an upgrade never mixes them. */
  static Path cacheFolder(Path jar) throws IOException {
    String configured = System.getProperty("dsparse.jar-cache");
    Path root;
    if (configured != null && !configured.isBlank()) {
      root = Path.of(configured);
    } else if (System.getenv("XDG_CACHE_HOME") != null && !System.getenv("XDG_CACHE_HOME").isBlank()) {
      root = Path.of(System.getenv("XDG_CACHE_HOME"), "dsparse");
    } else {
      root = Path.of(System.getProperty("user.home"), ".cache", "dsparse");
    }
    String name = jar.getFileName().toString().replaceFirst("\\.jar$", "");
    return root.resolve(name + "-" + Long.toHexString(Files.size(jar)) + "-"
        + Long.toHexString(Files.getLastModifiedTime(jar).toMillis()));
  }

  /**
   * Copies every {@code lib/*.jar} of {@code jar} into {@code folder} unless a complete copy is there,
   * and answers them in the jar's order. Each copy is written beside its place and moved there, so a
   * process that stops mid-copy, or two that start at once, never leave a truncated jar to run.
   */
  static List<Path> extract(JarFile jar, Path folder) throws IOException {
    Files.createDirectories(folder);
    List<Path> extracted = new ArrayList<>();
    Enumeration<JarEntry> entries = jar.entries();
    while (entries.hasMoreElements()) {
      JarEntry entry = entries.nextElement();
      String name = entry.getName();
      if (entry.isDirectory() || !name.startsWith(NESTED) || !name.endsWith(".jar")
          || name.indexOf('/', NESTED.length()) >= 0) {
        continue;
      }
      Path target = folder.resolve(name.substring(NESTED.length()));
      if (!Files.exists(target) || Files.size(target) != entry.getSize()) {
        Path partial = Files.createTempFile(folder, "unpacking-", ".part");
        try (InputStream in = jar.getInputStream(entry)) {
          Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
          try {
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
          }
        } finally {
          Files.deleteIfExists(partial);
        }
      }
      extracted.add(target);
    }
    if (extracted.isEmpty()) {
      throw new IOException(jar.getName() + " holds no jars under " + NESTED);
    }
    return extracted;
  }
}
