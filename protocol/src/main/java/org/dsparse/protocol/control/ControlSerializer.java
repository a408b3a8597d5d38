package org.dsparse.protocol.control;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.protocol.wire.KryoPool;
import org.dsparse.protocol.wire.WireSerializer;

/**
 * Pekko serializer for {@link ControlMessage}s: the manifest is the message's class name, the body
 * is Kryo's encoding of the record. The manifest must name a {@link ControlMessage}, and Kryo may
 * only name classes that message type declares ({@link ControlTypes}: its registration list, derived
 * from its components), so a forged message cannot make a node load or instantiate a class of its
 * choosing; anything else, or bytes that do not decode, is an {@link IllegalArgumentException} naming
 * the manifest, which Artery logs with the sender and drops, and which is counted by reason.
 */
public final class ControlSerializer extends WireSerializer {
  /** Registered id of this serializer; Pekko reserves 0 to 40. */
  public static final int IDENTIFIER = 7_310_002;

  public ControlSerializer(ExtendedActorSystem system) {
    super(system, IDENTIFIER);
  }

  @Override
  public String manifest(Object message) {
    if (!(message instanceof ControlMessage)) {
      throw notOwned(message);
    }
    return message.getClass().getName();
  }

  @Override
  protected String channel(Object message) {
    return ((ControlMessage) message).wireChannel();
  }

  @Override
  protected Object decode(byte[] bytes, String manifest) {
    Class<?> type;
    try {
      type = Class.forName(manifest, false, getClass().getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("control message of unknown type " + manifest);
    }
    if (!ControlMessage.class.isAssignableFrom(type)) {
      throw new IllegalArgumentException("manifest " + manifest + " is not a control message");
    }
    return readWithKryo(bytes, type, manifest);
  }

  @Override
  protected Kryo newKryo() {
    DeclaredTypesResolver resolver = new DeclaredTypesResolver();
    Kryo kryo = new Kryo(resolver, null);
    kryo.setRegistrationRequired(false);
    kryo.setReferences(false);
    kryo.addDefaultSerializer(ActorRef.class, new ActorRefSerializer());
    resolver.armed = true;
    return kryo;
  }

  /** Typed actor references travel as their serialization format and are resolved on arrival. */
  private final class ActorRefSerializer extends Serializer<ActorRef<?>> {
    @Override
    public void write(Kryo kryo, Output output, ActorRef<?> ref) {
      output.writeString(refs().toSerializationFormat(ref));
    }

    @Override
    public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
      return refs().resolve(input.readString());
    }
  }

  /**
   * Refuses to name, and so to instantiate, any class the message being written or read does not
   * declare ({@link ControlTypes}).
   */
  private static final class DeclaredTypesResolver extends DefaultClassResolver {
    /** Off while Kryo's constructor registers its defaults, on for every message after. */
    boolean armed;

    @Override
    public Registration readClass(Input input) {
      Registration registration = super.readClass(input);
      if (registration != null) {
        check(registration.getType());
      }
      return registration;
    }

    @Override
    public Registration getRegistration(Class type) {
      check(type);
      return super.getRegistration(type);
    }

    private void check(Class<?> type) {
      if (!armed) {
        return;
      }
      Class<?> root = (Class<?>) kryo.getContext().get(KryoPool.ROOT_TYPE);
      if (root == null || !ControlTypes.admits(root, type)) {
        throw new IllegalArgumentException("class " + type.getName() + " is not declared by "
            + (root == null ? "any message" : root.getName()) + ": not allowed in a control message");
      }
    }
  }
}
