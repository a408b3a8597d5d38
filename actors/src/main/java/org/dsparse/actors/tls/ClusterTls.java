package org.dsparse.actors.tls;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.LoggerFactory;

/**
 * The cluster closed to strangers: with {@code dsparse.tls.enabled}, Artery runs over TLS with mutual
 * authentication on the certificates in {@code dsparse.tls.dir} (a folder made by
 * {@code node-app certs issue}, read by {@link ClusterSslEngineProvider}), so that a node without a
 * certificate of the cluster's CA cannot connect, in either direction. The files are checked before
 * the node starts.
 */
public final class ClusterTls {
  /** A certificate this close to its end is warned about at start. */
  public static final Duration EXPIRY_WARNING = Duration.ofDays(30);

  private ClusterTls() {}

  /**
   * {@code config} with Artery over mutual TLS when {@code dsparse.tls.enabled}, else as it is; a
   * missing, unreadable, expired or foreign certificate is an IllegalArgumentException naming
   * {@code dsparse.tls.dir} and the file.
   */
  public static Config apply(Config config, Clock clock) {
    if (!config.getBoolean("dsparse.tls.enabled")) {
      return config;
    }
    String dir = config.getString("dsparse.tls.dir");
    if (dir.isBlank()) {
      throw new IllegalArgumentException("dsparse.tls.dir: empty, but dsparse.tls.enabled is on: give the folder"
          + " node-app certs issue made for this device (tls.crt, tls.key, ca.crt), or set dsparse.tls.enabled ="
          + " off to run an open cluster");
    }
    Path folder = Path.of(dir).toAbsolutePath();
    X509Certificate certificate;
    try {
      certificate = ClusterCertificates.checkDevice(folder, clock);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("dsparse.tls.dir: " + e.getMessage(), e);
    }
    Instant notAfter = certificate.getNotAfter().toInstant();
    if (notAfter.isBefore(clock.instant().plus(EXPIRY_WARNING))) {
      LoggerFactory.getLogger(ClusterTls.class).warn("the certificate {} expires on {} ({} left): issue a new one"
          + " with node-app certs issue", folder.resolve(ClusterCertificates.CERT), notAfter,
          ClusterCertificates.days(Duration.between(clock.instant(), notAfter).toDays()));
    }
    return ConfigFactory.empty()
        .withValue("dsparse.tls.dir", ConfigValueFactory.fromAnyRef(folder.toString()))
        .withValue("pekko.remote.artery.transport", ConfigValueFactory.fromAnyRef("tls-tcp"))
        .withValue("pekko.remote.artery.ssl.ssl-engine-provider",
            ConfigValueFactory.fromAnyRef(ClusterSslEngineProvider.class.getName()))
        .withFallback(config);
  }
}
