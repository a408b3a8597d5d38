package org.dsparse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.dsparse.core.cli.UsageException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertsCommandTest {
  private static final Clock NOW = Clock.systemUTC();

  private static String run(Clock clock, String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      CertsCommand.run(args, clock);
    } finally {
      System.setOut(old);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void initIssueListMakeTheFilesAndShowTheirExpiry(@TempDir Path dir) throws Exception {
    String certs = dir.resolve("certs").toString();
    run(NOW, "init", "--dir", certs, "--cluster", "lab");
    run(NOW, "issue", "--dir", certs, "--name", "pi4-a", "--days", "20");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("certs/ca.key"))));
    assertEquals("rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("certs/pi4-a/tls.key"))));
    assertTrue(Files.exists(dir.resolve("certs/pi4-a/ca.crt")));
    String list = run(NOW, "list", "--dir", certs);
    assertTrue(list.contains("pi4-a/tls.crt") && list.contains("pi4-a,lab") && list.contains("expires soon"), list);
    Clock later = Clock.fixed(Instant.now().plus(Duration.ofDays(21)), ZoneOffset.UTC);
    assertTrue(run(later, "list", "--dir", certs).contains("EXPIRED"));
  }

  @Test
  void mistakesAreNamedInOneLine(@TempDir Path dir) {
    String certs = dir.resolve("certs").toString();
    UsageException e = assertThrows(UsageException.class, () -> run(NOW, "issue", "--dir", certs, "--name", "a"));
    assertTrue(e.getMessage().contains("certs init"), e.getMessage());
    run(NOW, "init", "--dir", certs);
    e = assertThrows(UsageException.class, () -> run(NOW, "init", "--dir", certs));
    assertTrue(e.getMessage().contains("has a CA already"), e.getMessage());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> run(NOW, "issue", "--dir", certs, "--name", "Pi_4"));
    assertTrue(bad.getMessage().startsWith("--name Pi_4"), bad.getMessage());
    e = assertThrows(UsageException.class, () -> run(NOW, "issue", "--dir", certs, "--name", "a", "--days", "0"));
    assertTrue(e.getMessage().contains("--days"), e.getMessage());
    e = assertThrows(UsageException.class, () -> run(NOW, "revoke"));
    assertTrue(e.getMessage().contains("unknown action 'revoke'"), e.getMessage());
  }
}
