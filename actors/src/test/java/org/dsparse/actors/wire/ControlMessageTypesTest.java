package org.dsparse.actors.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.dsparse.protocol.control.ControlMessage;
import org.dsparse.protocol.control.ControlTypes;
import org.junit.jupiter.api.Test;

/**
 * Every control message the build has (protocol, core and actors classes on this test's class path)
 * declares the types of all it carries: the control serializer admits a class only when the
 * message's type declares it, so a field of type {@code Object} or an open interface would make
 * that message fail on the wire the first time it crossed it, possibly in a rare path (a recovery, a
 * state fetch) no cluster test happened to take.
 */
class ControlMessageTypesTest {
  @Test
  void everyControlMessageDeclaresConcreteOrSealedTypesOnly() throws Exception {
    List<Class<?>> messages = controlMessages();
    assertTrue(messages.size() > 30, "found only " + messages);
    Map<String, List<String>> open = new TreeMap<>();
    for (Class<?> message : messages) {
      List<Class<?>> types = ControlTypes.openTypes(message);
      if (!types.isEmpty()) {
        open.put(message.getName(), types.stream().map(Class::getName).toList());
      }
    }
    assertEquals(Map.of(), open, "control messages declaring types no value can travel as");
  }

  private static List<Class<?>> controlMessages() throws ClassNotFoundException {
    List<Class<?>> found = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      Path root = Path.of(entry);
      // This module's classes and the other dsparse modules' (directories in a reactor build, jars
      // when this module builds alone); not test classes, not libraries.
      boolean classes = Files.isDirectory(root) && !root.endsWith("test-classes");
      boolean module = entry.endsWith(".jar") && root.getFileName().toString().startsWith("dsparse-");
      if (!classes && !module) {
        continue;
      }
      for (String name : classNames(root)) {
        if (name.startsWith("org.dsparse.")) {
          Class<?> type = Class.forName(name, false, ControlMessageTypesTest.class.getClassLoader());
          if (ControlMessage.class.isAssignableFrom(type) && !type.isInterface()
              && !java.lang.reflect.Modifier.isAbstract(type.getModifiers()) && !found.contains(type)) {
            found.add(type);
          }
        }
      }
    }
    return found;
  }

  private static List<String> classNames(Path root) {
    try {
      if (Files.isDirectory(root)) {
        try (Stream<Path> files = Files.walk(root)) {
          return files.map(root::relativize).map(Path::toString).filter(n -> n.endsWith(".class"))
              .map(ControlMessageTypesTest::className).toList();
        }
      }
      try (var jar = new java.util.jar.JarFile(root.toFile())) {
        return jar.stream().map(java.util.jar.JarEntry::getName).filter(n -> n.endsWith(".class"))
            .map(ControlMessageTypesTest::className).toList();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String className(String file) {
    return file.substring(0, file.length() - ".class".length()).replace('/', '.').replace('\\', '.');
  }
}
