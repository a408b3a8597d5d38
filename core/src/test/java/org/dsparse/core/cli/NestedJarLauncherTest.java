package org.dsparse.core.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NestedJarLauncherTest {

  private static Path jarWith(Path file, Map<String, String> entries) throws IOException {
    try (OutputStream out = Files.newOutputStream(file); JarOutputStream jar = new JarOutputStream(out)) {
      for (var entry : entries.entrySet()) {
        jar.putNextEntry(new JarEntry(entry.getKey()));
        jar.write(entry.getValue().getBytes(StandardCharsets.UTF_8));
        jar.closeEntry();
      }
    }
    return file;
  }

  @Test
  void theNestedJarsAreCopiedOnceAndInOrder(@TempDir Path dir) throws Exception {
    Path app = jarWith(dir.resolve("app-all.jar"), new java.util.LinkedHashMap<>(Map.of(
        "lib/a.jar", "first", "lib/b.jar", "second", "org/dsparse/core/cli/NestedJarLauncher.class", "x",
        "lib/nested/c.jar", "not a top-level jar")));
    Path cache = dir.resolve("cache");
    List<Path> first;
    try (JarFile jar = new JarFile(app.toFile())) {
      first = NestedJarLauncher.extract(jar, cache);
    }
    assertEquals(List.of(cache.resolve("a.jar"), cache.resolve("b.jar")), first.stream().sorted().toList());
    assertArrayEquals("first".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(cache.resolve("a.jar")));
    // A second start finds complete copies and leaves them as they are.
    FileTime old = FileTime.fromMillis(1_000_000L);
    Files.setLastModifiedTime(cache.resolve("a.jar"), old);
    try (JarFile jar = new JarFile(app.toFile())) {
      NestedJarLauncher.extract(jar, cache);
    }
    assertEquals(old, Files.getLastModifiedTime(cache.resolve("a.jar")));
    // A truncated copy (a start that was killed mid-copy) is replaced.
    Files.writeString(cache.resolve("b.jar"), "sec");
    try (JarFile jar = new JarFile(app.toFile())) {
      NestedJarLauncher.extract(jar, cache);
    }
    assertEquals("second", Files.readString(cache.resolve("b.jar")));
    try (var left = Files.list(cache)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().endsWith(".part")), "no partial files left");
    }
  }

  @Test
  void aJarWithoutNestedJarsIsNamed(@TempDir Path dir) throws Exception {
    Path app = jarWith(dir.resolve("thin.jar"), Map.of("org/x/Main.class", "x"));
    try (JarFile jar = new JarFile(app.toFile())) {
      IOException e = assertThrows(IOException.class, () -> NestedJarLauncher.extract(jar, dir.resolve("cache")));
      assertTrue(e.getMessage().contains("thin.jar") && e.getMessage().contains("lib/"), e.getMessage());
    }
  }

  @Test
  void eachBuildOfTheJarGetsItsOwnFolder(@TempDir Path dir) throws Exception {
    System.setProperty("dsparse.jar-cache", dir.resolve("cache").toString());
    try {
      Path app = jarWith(dir.resolve("node-app-all.jar"), Map.of("lib/a.jar", "one"));
      Path before = NestedJarLauncher.cacheFolder(app);
      jarWith(app, Map.of("lib/a.jar", "a newer build"));
      Files.setLastModifiedTime(app, FileTime.fromMillis(Files.getLastModifiedTime(app).toMillis() + 5000));
      Path after = NestedJarLauncher.cacheFolder(app);
      assertTrue(before.getFileName().toString().startsWith("node-app-all-"), before.toString());
      assertTrue(!before.equals(after), before + " vs " + after);
      assertEquals(dir.resolve("cache"), after.getParent());
    } finally {
      System.clearProperty("dsparse.jar-cache");
    }
  }
}
