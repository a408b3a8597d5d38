package org.dsparse.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.dsparse.actors.tls.ClusterCertificates;
import org.dsparse.actors.tls.ClusterTls;
import org.dsparse.core.cli.Flags;
import org.dsparse.core.cli.Table;
import org.dsparse.core.cli.UsageException;

/** {@code node-app certs init | issue | list}: the cluster's CA and its devices' certificates. */
final class CertsCommand {
  static final String USAGE = """
      usage: java -jar node-app-all.jar certs init [--dir certs] [--cluster dsparse] [--days 3650]
             java -jar node-app-all.jar certs issue --name DEVICE [--dir certs] [--days 730]
             java -jar node-app-all.jar certs list [--dir certs]
        init   creates the cluster's CA: DIR/ca.crt, and DIR/ca.key (owner-only; keep it off the devices)
        issue  creates DEVICE's key and certificate, signed by the CA, in DIR/DEVICE/ (tls.key owner-only,
               tls.crt, ca.crt): copy that folder to the device and set dsparse.tls.dir (or --tls) to it
        list   shows every certificate under DIR with its names and how long it has left""";

  private CertsCommand() {}

  static void run(String[] args, Clock clock) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("help")) {
      System.out.println(USAGE);
      return;
    }
    String action = args[0];
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    try {
      switch (action) {
        case "init" -> init(rest, clock);
        case "issue" -> issue(rest, clock);
        case "list" -> list(rest, clock);
        default -> throw new UsageException("certs: unknown action '" + action + "'\n" + USAGE);
      }
    } catch (IOException e) {
      throw new UsageException("certs " + action + ": " + e.getMessage());
    }
  }

  private static void init(String[] args, Clock clock) throws IOException {
    Flags flags = Flags.parse("certs init", args, Set.of("dir", "cluster", "days"), Set.of("help"));
    if (flags.has("help")) {
      System.out.println(USAGE);
      return;
    }
    Path dir = Path.of(flags.get("dir", "certs"));
    X509Certificate ca = ClusterCertificates.initCa(dir, flags.get("cluster", "dsparse"),
        Duration.ofDays(days(flags, 3650)), clock);
    System.out.println("created the cluster's CA: " + dir.resolve(ClusterCertificates.CA_CERT) + " (valid until "
        + ca.getNotAfter().toInstant() + ") and its key " + dir.resolve(ClusterCertificates.CA_KEY)
        + " (owner-only: keep it on this machine)");
    System.out.println("next: java -jar node-app-all.jar certs issue --dir " + dir + " --name DEVICE, for each device");
  }

  private static void issue(String[] args, Clock clock) throws IOException {
    Flags flags = Flags.parse("certs issue", args, Set.of("dir", "name", "days"), Set.of("help"));
    if (flags.has("help")) {
      System.out.println(USAGE);
      return;
    }
    String name = flags.get("name").orElseThrow(() -> new UsageException("certs issue needs --name DEVICE"));
    Path dir = Path.of(flags.get("dir", "certs"));
    if (!Files.exists(dir.resolve(ClusterCertificates.CA_CERT))) {
      throw new UsageException("certs issue: " + dir.resolve(ClusterCertificates.CA_CERT)
          + " does not exist: create the cluster's CA first with certs init --dir " + dir);
    }
    X509Certificate certificate = ClusterCertificates.issue(dir, name, Duration.ofDays(days(flags, 730)), clock);
    Path device = dir.resolve(name);
    System.out.println("issued " + device.resolve(ClusterCertificates.CERT) + " for " + name + " (valid until "
        + certificate.getNotAfter().toInstant() + "), key " + device.resolve(ClusterCertificates.KEY)
        + " (owner-only)");
    System.out.println("copy " + device + "/ to the device and start it with --tls <that folder>"
        + " (or dsparse.tls.dir)");
  }

  private static void list(String[] args, Clock clock) throws IOException {
    Flags flags = Flags.parse("certs list", args, Set.of("dir"), Set.of("help"));
    if (flags.has("help")) {
      System.out.println(USAGE);
      return;
    }
    Path dir = Path.of(flags.get("dir", "certs"));
    if (!Files.isDirectory(dir)) {
      throw new UsageException("certs list: " + dir + " is not a folder");
    }
    List<ClusterCertificates.Described> all = ClusterCertificates.list(dir);
    Table table = new Table("file", "kind", "names", "valid until", "left", "status");
    for (ClusterCertificates.Described d : all) {
      long days = d.daysLeft(clock);
      String status = days < 0 ? "EXPIRED"
          : !d.authority() && !d.issuedByCa() ? "not issued by " + dir.resolve(ClusterCertificates.CA_CERT)
          : days < ClusterTls.EXPIRY_WARNING.toDays() ? "expires soon" : "ok";
      table.row(dir.relativize(d.file()).toString(), d.authority() ? "CA" : "device", String.join(",", d.names()),
          d.notAfter().toString(), ClusterCertificates.days(days), status);
    }
    System.out.print(table);
  }

  private static long days(Flags flags, long fallback) {
    long days = flags.getInt("days", (int) fallback);
    if (days < 1) {
      throw new UsageException("--days " + days + ": give a number of days of at least 1");
    }
    return days;
  }
}
