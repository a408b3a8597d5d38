package org.dsparse.actors.tls;

import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.remote.artery.tcp.SSLEngineProvider;
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
  private static final String PROTOCOL = "TLSv1.3";

  private final SSLContext context;

  /** Pekko constructs it with the node's actor system. */
  public ClusterSslEngineProvider(ActorSystem system) {
    this.context = ClusterTrust.context(Path.of(system.settings().config().getString("dsparse.tls.dir")),
        new ClusterTrust.LoggedRefusals("", () -> Adapter.toTyped(system)));
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

}
