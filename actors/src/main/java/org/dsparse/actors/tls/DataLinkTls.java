package org.dsparse.actors.tls;

import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The TLS context of this node's collective data links: the cluster's certificates, as Artery has
 * them, when {@code dsparse.tls.enabled}; none otherwise. One per node.
 */
public final class DataLinkTls implements Extension {
  private final SSLContext context;

  private DataLinkTls(ActorSystem<?> system) {
    var config = system.settings().config();
    this.context = config.getBoolean("dsparse.tls.enabled")
        ? ClusterTrust.context(Path.of(config.getString("dsparse.tls.dir")),
            new ClusterTrust.LoggedRefusals("data link", () -> system))
        : null;
  }

  public static DataLinkTls get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  public Optional<SSLContext> context() {
    return Optional.ofNullable(context);
  }

  /** One per actor system. */
  public static final class Id extends ExtensionId<DataLinkTls> {
    static final Id INSTANCE = new Id();

    @Override
    public DataLinkTls createExtension(ActorSystem<?> system) {
      return new DataLinkTls(system);
    }
  }
}
