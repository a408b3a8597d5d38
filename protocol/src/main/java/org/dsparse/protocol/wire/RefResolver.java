package org.dsparse.protocol.wire;

import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * Typed actor references to and from their serialized form. Looked up lazily: serializers are
 * created while the actor system is still starting, before its resolver exists.
 */
public final class RefResolver {
  private final ExtendedActorSystem system;
  private volatile ActorRefResolver resolver;

  public RefResolver(ExtendedActorSystem system) {
    this.system = system;
  }

  public String toSerializationFormat(ActorRef<?> ref) {
    return resolver().toSerializationFormat(ref);
  }

  public <T> ActorRef<T> resolve(String serialized) {
    return resolver().resolveActorRef(serialized);
  }

  private ActorRefResolver resolver() {
    ActorRefResolver current = resolver;
    if (current == null) {
      current = ActorRefResolver.get(Adapter.toTyped(system));
      resolver = current;
    }
    return current;
  }
}
