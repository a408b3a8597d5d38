package org.dsparse.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import java.util.function.Supplier;

/**
 * Kryo instances for concurrent use: Kryo is not thread-safe and costly to configure, and Artery
 * serializes on several threads, so each call borrows a configured instance.
 */
public final class KryoPool {
  /**
   * Key of {@link Kryo#getContext()} under which the top-level type being written or read is kept
   * while it is: a class resolver may admit classes by what that type declares.
   */
  public static final String ROOT_TYPE = "dsparse.root-type";

  private final Pool<Kryo> pool;

  public KryoPool(Supplier<Kryo> factory) {
    this.pool = new Pool<>(true, false, 16) {
      @Override
      protected Kryo create() {
        return factory.get();
      }
    };
  }

  /** Kryo's encoding of {@code message}; what Kryo cannot write is an IllegalArgumentException. */
  public byte[] write(Object message) {
    Kryo kryo = pool.obtain();
    try (Output output = new Output(256, -1)) {
      kryo.getContext().put(ROOT_TYPE, message.getClass());
      kryo.writeObject(output, message);
      return output.toBytes();
    } catch (KryoException e) {
      throw new IllegalArgumentException("cannot serialize " + message.getClass().getName() + ": "
          + e.getMessage(), e);
    } finally {
      pool.free(kryo);
    }
  }

  /**
   * Decodes exactly {@code bytes} as a {@code type}; truncated, oversized or undecodable input is an
   * IllegalArgumentException naming {@code manifest}, which Artery logs with the sender and drops.
   */
  public <T> T read(byte[] bytes, Class<T> type, String manifest) {
    Kryo kryo = pool.obtain();
    try (Input input = new BoundedInput(bytes)) {
      kryo.getContext().put(ROOT_TYPE, type);
      T message = kryo.readObject(input, type);
      if (input.position() != bytes.length) {
        throw new IllegalArgumentException((bytes.length - input.position()) + " trailing bytes");
      }
      return message;
    } catch (KryoException | IllegalArgumentException | IndexOutOfBoundsException e) {
      throw new IllegalArgumentException("malformed " + type.getSimpleName() + " (manifest " + manifest + ", "
          + bytes.length + " bytes): " + e.getMessage(), e);
    } finally {
      pool.free(kryo);
    }
  }
}
