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
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.remote.artery.tcp.SSLEngineProvider;
import org.dsparse.actors.node.NodeMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;

/**
 * Artery's TLS on the node's certificate folder ({@code dsparse.tls.dir}): TLS 1.3, each side presents
 * its certificate and trusts only the cluster's CA. A peer whose certificate the CA did not issue, or
 * that has expired, is refused during the handshake, and this node logs who it was (the certificate's
 * subject and the peer's address) and why, once a minute per peer, and counts every refusal
 * ({@code dsparse_tls_refused_total}). In TLS 1.3 the connecting side checks the server's certificate
 * first: a stranger of another CA gives up before it shows its own, so it is the stranger that logs;
 * the members see (and name) the certificate of a peer that trusts their CA but holds another's.
 */
public final class ClusterSslEngineProvider implements SSLEngineProvider {
  private static final Logger log = LoggerFactory.getLogger(ClusterSslEngineProvider.class);
  private static final String PROTOCOL = "TLSv1.3";

  private static final long LOG_INTERVAL_NANOS = 60_000_000_000L;

  private final ActorSystem system;
  private final SSLContext context;
  private final Map<String, Long> lastLogged = new ConcurrentHashMap<>();
  private final Map<String, Long> suppressed = new ConcurrentHashMap<>();

  /** Pekko constructs it with the node's actor system. */
  public ClusterSslEngineProvider(ActorSystem system) {
    this.system = system;
    this.context = context(Path.of(system.settings().config().getString("dsparse.tls.dir")));
  }

  private SSLContext context(Path dir) {
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
      SSLContext ssl = SSLContext.getInstance(PROTOCOL);
      ssl.init(keys.getKeyManagers(), new TrustManager[] {new Refusing(pkix)}, new SecureRandom());
      return ssl;
    } catch (java.io.IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("dsparse.tls.dir: " + e.getMessage(), e);
    }
  }

  @Override
  public SSLEngine createServerSSLEngine(String hostname, int port) {
    SSLEngine engine = engine(hostname, port);
    engine.setUseClientMode(false);
    engine.setNeedClientAuth(true);
    return engine;
  }

  @Override
  public SSLEngine createClientSSLEngine(String hostname, int port) {
    SSLEngine engine = engine(hostname, port);
    engine.setUseClientMode(true);
    return engine;
  }

  private SSLEngine engine(String hostname, int port) {
    SSLEngine engine = context.createSSLEngine(hostname, port);
    engine.setEnabledProtocols(new String[] {PROTOCOL});
    return engine;
  }

  /** The CA vouched for the peer during the handshake; nothing more to check. */
  @Override
  public Option<Throwable> verifyClientSession(String hostname, SSLSession session) {
    return Option.empty();
  }

  @Override
  public Option<Throwable> verifyServerSession(String hostname, SSLSession session) {
    return Option.empty();
  }

  private void refused(String direction, SSLEngine engine, X509Certificate[] chain, CertificateException e) {
    String reason = e instanceof CertificateExpiredException ? "expired"
        : e instanceof CertificateNotYetValidException ? "not-yet-valid" : "untrusted";
    String who = chain == null || chain.length == 0 ? "a peer without a certificate"
        : chain[0].getSubjectX500Principal().getName() + " (issued by " + chain[0].getIssuerX500Principal().getName()
            + ")";
    String where = engine == null || engine.getPeerHost() == null ? ""
        : " at " + engine.getPeerHost() + (engine.getPeerPort() > 0 ? ":" + engine.getPeerPort() : "");
    NodeMetrics.get(Adapter.toTyped(system)).tlsRefused(direction, reason);
    // A refused node retries every few seconds: one line per peer and minute, with the count since.
    String key = direction + " " + who + where;
    long now = System.nanoTime();
    Long last = lastLogged.get(key);
    long skipped = suppressed.merge(key, 1L, Long::sum) - 1;
    if (last == null || now - last >= LOG_INTERVAL_NANOS) {
      lastLogged.put(key, now);
      suppressed.put(key, 0L);
      log.warn("refused {} {}{}: {} certificate ({}){}", direction, who, where, reason, e.getMessage(),
          skipped > 0 ? "; refused " + skipped + " more times since the last such line" : "");
    }
  }

  /** The CA's PKIX check, with refusals logged and counted. */
  private final class Refusing extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;

    Refusing(X509ExtendedTrustManager pkix) {
      this.pkix = pkix;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      try {
        pkix.checkClientTrusted(chain, authType, engine);
      } catch (CertificateException e) {
        refused("incoming", engine, chain, e);
        throw e;
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      try {
        pkix.checkServerTrusted(chain, authType, engine);
      } catch (CertificateException e) {
        refused("outgoing", engine, chain, e);
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
