package org.dsparse.actors.tls;

import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.apache.pekko.actor.typed.ActorSystem;
import org.dsparse.actors.metrics.NodeMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS 1.3 on a node's certificate folder, trusting only the cluster's CA: the context the cluster's
 * connections ({@link ClusterSslEngineProvider}) and the collectives' data links use. Its trust
 * manager is the JDK's PKIX check, with every refused peer reported.
 */
public final class ClusterTrust {
  private static final Logger log = LoggerFactory.getLogger(ClusterTrust.class);

  private ClusterTrust() {}

  /** Where refusals go. */
  public interface Refusals {
    void refused(String direction, SSLEngine engine, X509Certificate[] chain, CertificateException e);
  }

  /** The TLS context on {@code dir}'s files (checked by {@link ClusterCertificates#checkDevice} before). */
  public static SSLContext context(Path dir, Refusals refusals) {
    try {
      X509Certificate certificate = ClusterCertificates.readCertificate(dir.resolve(ClusterCertificates.CERT));
      X509Certificate ca = ClusterCertificates.readCertificate(dir.resolve(ClusterCertificates.CA_CERT));
      PrivateKey key = ClusterCertificates.readPrivateKey(dir.resolve(ClusterCertificates.KEY));
      char[] none = new char[0];
      KeyStore own = KeyStore.getInstance("PKCS12");
      own.load(null, null);
      own.setKeyEntry("node", key, none, new X509Certificate[] {certificate, ca});
      KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(own, none);
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      trusted.setCertificateEntry("cluster-ca", ca);
      TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
      trust.init(trusted);
      X509ExtendedTrustManager pkix = null;
      for (TrustManager manager : trust.getTrustManagers()) {
        if (manager instanceof X509ExtendedTrustManager x509) {
          pkix = x509;
        }
      }
      SSLContext ssl = SSLContext.getInstance("TLSv1.3");
      ssl.init(keys.getKeyManagers(), new TrustManager[] {new Refusing(pkix, refusals)}, new SecureRandom());
      return ssl;
    } catch (java.io.IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("dsparse.tls.dir: " + e.getMessage(), e);
    }
  }

  /**
   * Refusals logged with who (the certificate's subject and issuer), where (the peer's address) and
   * why, once a minute per peer with the count since (a refused node retries every few seconds), and
   * every one counted in {@code dsparse_tls_refused_total}.
   */
  public static final class LoggedRefusals implements Refusals {
    private static final long LOG_INTERVAL_NANOS = 60_000_000_000L;
    /** What the connections are, in the log line: empty for the cluster's own, e.g. "data link". */
    private final String what;
    private final Supplier<ActorSystem<?>> system;
    private final Map<String, Long> lastLogged = new ConcurrentHashMap<>();
    private final Map<String, Long> suppressed = new ConcurrentHashMap<>();

    public LoggedRefusals(String what, Supplier<ActorSystem<?>> system) {
      this.what = what;
      this.system = system;
    }

    @Override
    public void refused(String direction, SSLEngine engine, X509Certificate[] chain, CertificateException e) {
      String reason = e instanceof CertificateExpiredException ? "expired"
          : e instanceof CertificateNotYetValidException ? "not-yet-valid" : "untrusted";
      String who = chain == null || chain.length == 0 ? "a peer without a certificate"
          : chain[0].getSubjectX500Principal().getName() + " (issued by " + chain[0].getIssuerX500Principal().getName()
              + ")";
      String where = engine == null || engine.getPeerHost() == null ? ""
          : " at " + engine.getPeerHost() + (engine.getPeerPort() > 0 ? ":" + engine.getPeerPort() : "");
      String kind = what.isEmpty() ? direction : direction + " " + what;
      NodeMetrics.get(system.get()).tlsRefused(kind.replace(' ', '-'), reason);
      String key = kind + " " + who + where;
      long now = System.nanoTime();
      Long last = lastLogged.get(key);
      long skipped = suppressed.merge(key, 1L, Long::sum) - 1;
      if (last == null || now - last >= LOG_INTERVAL_NANOS) {
        lastLogged.put(key, now);
        suppressed.put(key, 0L);
        log.warn("refused {} {}{}: {} certificate ({}){}", kind, who, where, reason, e.getMessage(),
            skipped > 0 ? "; refused " + skipped + " more times since the last such line" : "");
      }
    }
  }

  /** The CA's PKIX check, with refusals reported. */
  private static final class Refusing extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;
    private final Refusals refusals;

    Refusing(X509ExtendedTrustManager pkix, Refusals refusals) {
      this.pkix = pkix;
      this.refusals = refusals;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      try {
        pkix.checkClientTrusted(chain, authType, engine);
      } catch (CertificateException e) {
        refusals.refused("incoming", engine, chain, e);
        throw e;
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      try {
        pkix.checkServerTrusted(chain, authType, engine);
      } catch (CertificateException e) {
        refusals.refused("outgoing", engine, chain, e);
        throw e;
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkClientTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkServerTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      checkClientTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      checkServerTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pkix.getAcceptedIssuers();
    }
  }
}
