package org.dsparse.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import java.util.function.Supplier;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * What every dsparse Pekko serializer does the same way: pooled Kryo, actor references resolved
 * lazily, bytes counted per channel in {@link WireTraffic}, and input it will not decode refused
 * with one {@link IllegalArgumentException} naming the problem, counted by reason first. A subclass
 * says which messages it owns ({@link #manifest}), how a manifest decodes ({@link #decode}) and on
 * which channel a message travels ({@link #channel}).
 */
public abstract class WireSerializer extends SerializerWithStringManifest {
  private final int identifier;
  private final RefResolver refs;
  private final WireTraffic traffic;
  // Instances are created on first use, after the subclass's constructor has run.
  private final KryoPool kryos = new KryoPool(this::newKryo);

  protected WireSerializer(ExtendedActorSystem system, int identifier) {
    this.identifier = identifier;
    this.refs = new RefResolver(system);
    this.traffic = WireTraffic.get(system);
  }

  @Override
  public final int identifier() {
    return identifier;
  }

  /** Kryo's encoding of an owned {@code message}; anything else is refused by {@link #manifest}. */
  @Override
  public byte[] toBinary(Object message) {
    manifest(message);
    byte[] bytes = kryos.write(message);
    traffic.sent(channel(message), bytes.length);
    return bytes;
  }

  @Override
  public final Object fromBinary(byte[] bytes, String manifest) {
    Object message = counted(() -> decode(bytes, manifest));
    traffic.received(channel(message), bytes.length);
    return message;
  }

  /** A configured Kryo instance: the pool asks for one per thread that serializes at once. */
  protected abstract Kryo newKryo();

  /** The message {@code bytes} encode under {@code manifest}, or an IllegalArgumentException saying why not. */
  protected abstract Object decode(byte[] bytes, String manifest);

  /** The {@link WireTraffic} channel {@code message}'s bytes count on. */
  protected abstract String channel(Object message);

  /** Kryo's decoding of exactly {@code bytes} as a {@code type}: see {@link KryoPool#read}. */
  protected final <T> T readWithKryo(byte[] bytes, Class<T> type, String manifest) {
    return kryos.read(bytes, type, manifest);
  }

  /** The refusal of a message this serializer does not own. */
  protected final IllegalArgumentException notOwned(Object message) {
    return new IllegalArgumentException(getClass().getSimpleName() + " cannot serialize "
        + message.getClass().getName());
  }

  /** A refused frame is counted by reason, then refused. */
  protected final <T> T counted(Supplier<T> decoding) {
    try {
      return decoding.get();
    } catch (IllegalArgumentException e) {
      traffic.refused(WireTraffic.reasonOf(e));
      throw e;
    }
  }

  protected final RefResolver refs() {
    return refs;
  }

  protected final WireTraffic traffic() {
    return traffic;
  }
}
