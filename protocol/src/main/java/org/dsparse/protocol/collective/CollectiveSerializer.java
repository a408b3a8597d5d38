package org.dsparse.protocol.collective;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.dsparse.protocol.wire.WireSerializer;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * Pekko serializer for {@link PeerMessage}s.
 *
 * <p>{@link Chunk}s are written by hand as a small header followed by the payload as raw
 * little-endian floats, bulk-copied straight into Artery's (direct, pooled) envelope buffer: no
 * boxing, no per-element call, no intermediate {@code byte[]}. Control messages are tiny and rare
 * and go through Kryo. Malformed input raises {@link IllegalArgumentException} naming the manifest
 * and the problem; Artery logs it with the sender's address and drops the message.
 */
public final class CollectiveSerializer extends WireSerializer implements ByteBufferSerializer {
  /** Registered id of this serializer; Pekko reserves 0 to 40. */
  public static final int IDENTIFIER = 7_310_001;

  static final String CHUNK = "C";
  static final String CONSUMED = "K";
  static final String STARTED = "S";
  static final String ABORTED = "A";
  static final String LINK_OFFERED = "L";

  private static final int MAX_STRING_BYTES = 16 * 1024;

  public CollectiveSerializer(ExtendedActorSystem system) {
    super(system, IDENTIFIER);
  }

  @Override
  public String manifest(Object message) {
    if (message instanceof Chunk) {
      return CHUNK;
    } else if (message instanceof ChunksConsumed) {
      return CONSUMED;
    } else if (message instanceof CollectiveStarted) {
      return STARTED;
    } else if (message instanceof CollectiveAborted) {
      return ABORTED;
    } else if (message instanceof DataLinkOffered) {
      return LINK_OFFERED;
    }
    throw notOwned(message);
  }

  /** Exact number of bytes {@link #toBinary(Object, ByteBuffer)} writes for {@code chunk}. */
  public int chunkSize(Chunk chunk) {
    return 4 + utf8(chunk.groupId()).length + 8 + 4 + 4 + 4 + utf8(refString(chunk.from())).length
        + 4 + 4 * chunk.payload().length();
  }

  @Override
  public void toBinary(Object message, ByteBuffer buffer) {
    if (message instanceof Chunk chunk) {
      int start = buffer.position();
      writeChunk(chunk, buffer);
      traffic().sent(chunk.groupId(), buffer.position() - start);
    } else {
      buffer.put(toBinary(message));
    }
  }

  @Override
  public byte[] toBinary(Object message) {
    if (message instanceof Chunk chunk) {
      byte[] bytes = new byte[chunkSize(chunk)];
      writeChunk(chunk, ByteBuffer.wrap(bytes));
      traffic().sent(chunk.groupId(), bytes.length);
      return bytes;
    }
    return super.toBinary(message);
  }

  @Override
  public Object fromBinary(ByteBuffer buffer, String manifest) {
    if (CHUNK.equals(manifest)) {
      int length = buffer.remaining();
      Chunk chunk = counted(() -> readChunk(buffer));
      traffic().received(chunk.groupId(), length);
      return chunk;
    }
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return fromBinary(bytes, manifest);
  }

  @Override
  protected String channel(Object message) {
    return message instanceof Chunk chunk ? chunk.groupId() : WireTraffic.CONTROL;
  }

  @Override
  protected Object decode(byte[] bytes, String manifest) {
    Class<? extends PeerMessage> type = switch (manifest) {
      case CHUNK -> Chunk.class;
      case CONSUMED -> ChunksConsumed.class;
      case STARTED -> CollectiveStarted.class;
      case ABORTED -> CollectiveAborted.class;
      case LINK_OFFERED -> DataLinkOffered.class;
      default -> throw new IllegalArgumentException("unknown collective message manifest [" + manifest + "]");
    };
    if (type == Chunk.class) {
      return readChunk(ByteBuffer.wrap(bytes));
    }
    return readWithKryo(bytes, type, manifest);
  }

  private void writeChunk(Chunk chunk, ByteBuffer buffer) {
    ByteOrder callerOrder = buffer.order();
    buffer.order(ByteOrder.LITTLE_ENDIAN);
    try {
      putString(buffer, chunk.groupId());
      buffer.putLong(chunk.sequence());
      buffer.putInt(chunk.step());
      buffer.putInt(chunk.index());
      putString(buffer, refString(chunk.from()));
      FloatSlice payload = chunk.payload();
      buffer.putInt(payload.length());
      buffer.asFloatBuffer().put(payload.array(), payload.offset(), payload.length());
      buffer.position(buffer.position() + 4 * payload.length());
    } finally {
      buffer.order(callerOrder);
    }
  }

  private Chunk readChunk(ByteBuffer buffer) {
    ByteOrder callerOrder = buffer.order();
    buffer.order(ByteOrder.LITTLE_ENDIAN);
    try {
      String groupId = getString(buffer, "group id");
      long sequence = buffer.getLong();
      int step = buffer.getInt();
      int index = buffer.getInt();
      ActorRef<PeerMessage> from = resolve(getString(buffer, "sender"));
      int length = buffer.getInt();
      if (length < 0 || (long) length * 4 > buffer.remaining()) {
        throw new IllegalArgumentException("malformed Chunk of group " + groupId + ": claims " + length
            + " floats but " + buffer.remaining() + " bytes remain");
      }
      float[] data = new float[length];
      buffer.asFloatBuffer().get(data);
      buffer.position(buffer.position() + 4 * length);
      if (buffer.hasRemaining()) {
        throw new IllegalArgumentException("malformed Chunk of group " + groupId + ": "
            + buffer.remaining() + " trailing bytes");
      }
      return new Chunk(groupId, sequence, step, index, from, FloatSlice.of(data));
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("malformed Chunk: truncated header", e);
    } finally {
      buffer.order(callerOrder);
    }
  }

  private static void putString(ByteBuffer buffer, String value) {
    byte[] bytes = utf8(value);
    buffer.putInt(bytes.length);
    buffer.put(bytes);
  }

  private static String getString(ByteBuffer buffer, String what) {
    int length = buffer.getInt();
    if (length < 0 || length > MAX_STRING_BYTES || length > buffer.remaining()) {
      throw new IllegalArgumentException("malformed Chunk: " + what + " claims " + length + " bytes, "
          + buffer.remaining() + " remain");
    }
    byte[] bytes = new byte[length];
    buffer.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }

  private static byte[] utf8(String value) {
    return value.getBytes(StandardCharsets.UTF_8);
  }

  private String refString(ActorRef<?> ref) {
    return refs().toSerializationFormat(ref);
  }

  private ActorRef<PeerMessage> resolve(String serialized) {
    return refs().resolve(serialized);
  }

  @Override
  protected Kryo newKryo() {
    Kryo kryo = new Kryo();
    kryo.setRegistrationRequired(true);
    kryo.setReferences(false);
    kryo.register(ChunksConsumed.class, new ControlSerializer<ChunksConsumed>() {
      @Override
      public void write(Kryo k, Output out, ChunksConsumed m) {
        out.writeString(m.groupId());
        out.writeLong(m.sequence());
        writeRef(out, m.from());
        out.writeInt(m.count());
      }

      @Override
      public ChunksConsumed read(Kryo k, Input in, Class<? extends ChunksConsumed> type) {
        return new ChunksConsumed(in.readString(), in.readLong(), readRef(in), in.readInt());
      }
    }, 20);
    kryo.register(CollectiveStarted.class, new ControlSerializer<CollectiveStarted>() {
      @Override
      public void write(Kryo k, Output out, CollectiveStarted m) {
        out.writeString(m.groupId());
        out.writeLong(m.sequence());
        writeRef(out, m.from());
        out.writeVarInt(m.kind().ordinal(), true);
        out.writeInt(m.length());
        out.writeInt(m.ownerRank());
      }

      @Override
      public CollectiveStarted read(Kryo k, Input in, Class<? extends CollectiveStarted> type) {
        String groupId = in.readString();
        long sequence = in.readLong();
        ActorRef<PeerMessage> from = readRef(in);
        int kind = in.readVarInt(true);
        if (kind >= CollectiveKind.values().length) {
          throw new IllegalArgumentException("malformed CollectiveStarted: unknown kind " + kind);
        }
        return new CollectiveStarted(groupId, sequence, from, CollectiveKind.values()[kind], in.readInt(),
            in.readInt());
      }
    }, 21);
    kryo.register(CollectiveAborted.class, new ControlSerializer<CollectiveAborted>() {
      @Override
      public void write(Kryo k, Output out, CollectiveAborted m) {
        out.writeString(m.groupId());
        out.writeLong(m.sequence());
        writeRef(out, m.from());
        out.writeString(m.missingMember());
        out.writeString(m.reason());
      }

      @Override
      public CollectiveAborted read(Kryo k, Input in, Class<? extends CollectiveAborted> type) {
        return new CollectiveAborted(in.readString(), in.readLong(), readRef(in), in.readString(), in.readString());
      }
    }, 22);
    kryo.register(DataLinkOffered.class, new ControlSerializer<DataLinkOffered>() {
      @Override
      public void write(Kryo k, Output out, DataLinkOffered m) {
        out.writeString(m.groupId());
        out.writeLong(m.generation());
        writeRef(out, m.from());
        out.writeString(m.host());
        out.writeInt(m.port());
        out.writeLong(m.token());
      }

      @Override
      public DataLinkOffered read(Kryo k, Input in, Class<? extends DataLinkOffered> type) {
        return new DataLinkOffered(in.readString(), in.readLong(), readRef(in), in.readString(), in.readInt(),
            in.readLong());
      }
    }, 23);
    return kryo;
  }

  /** Kryo serializer for an immutable control record whose actor refs travel as resolver strings. */
  private abstract class ControlSerializer<T> extends Serializer<T> {
    ControlSerializer() {
      super(false, true);
    }

    void writeRef(Output out, ActorRef<?> ref) {
      out.writeString(refString(ref));
    }

    ActorRef<PeerMessage> readRef(Input in) {
      String serialized = in.readString();
      if (serialized == null) {
        throw new IllegalArgumentException("malformed control message: missing sender");
      }
      return resolve(serialized);
    }
  }
}
