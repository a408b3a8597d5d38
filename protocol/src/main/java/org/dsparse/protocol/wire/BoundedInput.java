package org.dsparse.protocol.wire;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;

/**
 * Kryo input over one whole frame that refuses a length larger than the bytes left in it, before
 * anything that size is allocated. Kryo writes the element count of every array, collection and map,
 * and the character count of every non-ASCII string, as a positive varint (count + 1, 0 meaning null)
 * and allocates that many elements before it reads one; each element takes at least one byte, so a
 * count above the bytes left is a lie, and what a frame can make a node allocate stays within a small
 * multiple of the frame's own size.
 */
final class BoundedInput extends Input {
  BoundedInput(byte[] frame) {
    super(frame);
  }

  @Override
  public int readVarInt(boolean optimizePositive) {
    return checked(super.readVarInt(optimizePositive), optimizePositive);
  }

  @Override
  public int readVarIntFlag(boolean optimizePositive) {
    return checked(super.readVarIntFlag(optimizePositive), optimizePositive);
  }

  private int checked(int value, boolean optimizePositive) {
    int left = limit - position;
    if (optimizePositive && (value < 0 || value - 1 > left)) {
      throw new KryoException("claims " + (value < 0 ? Integer.toUnsignedString(value) : Integer.toString(value - 1))
          + " elements but " + left + " bytes remain");
    }
    return value;
  }
}
