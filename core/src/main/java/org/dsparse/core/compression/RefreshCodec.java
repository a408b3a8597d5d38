package org.dsparse.core.compression;

import java.util.Locale;

/**
 * Compressed weight refreshes with error feedback at the sender, after EF21-P's compressed model
 * broadcast (Gruntkowska, Tyurin, Richtárik): the sender of a group's refresh keeps the copy its
 * receivers hold, and each refresh sends a compressed form of the change since that copy; both sides
 * apply it the same way, so the receivers' copy stays equal to the sender's record of it bit for bit,
 * and what was not sent stays in the gap between the weights and the copy, to be sent later (the
 * error feedback, with no residual to keep beside the copy).
 *
 * <ul>
 *   <li>{@link Kind#TOPK}: the {@code k} coordinates where the copy is furthest from the weights, sent as
 *       (index, new value) pairs; the receiver sets them. {@code k} follows from the ratio: the payload
 *       is the dense vector's size over the ratio.
 *   <li>{@link Kind#QUANTIZE}: the whole change, each chunk of {@link #CHUNK} coordinates scaled by its
 *       largest magnitude and rounded to {@code bits} bits (8 or 4), packed into floats; the receiver
 *       adds the dequantized change. The rounding's error stays in the gap.
 * </ul>
 *
 * <p>Every payload starts with a checksum of the copy as it stands once the payload is applied, so a
 * receiver can tell whether its copy is still the sender's (a missed refresh, a corrupted buffer) and
 * the job can re-sync it with the exact weights. Packed words are always finite floats (see
 * {@link #pack}), and the checksum is carried in 16-bit pieces, each exact as a float: no transport's
 * handling of NaN bit patterns can change a payload.
 */
public final class RefreshCodec {
  /** Coordinates that share one scale in {@link Kind#QUANTIZE}. */
  public static final int CHUNK = 256;
  /** Floats of the checksum at the start of every payload. */
  static final int HEADER = 4;

  public enum Kind {
    TOPK, QUANTIZE;

    public static Kind parse(String name) {
      return switch (name.trim().toLowerCase(Locale.ROOT)) {
        case "topk" -> TOPK;
        case "quantize" -> QUANTIZE;
        default -> throw new IllegalArgumentException("refresh compression '" + name + "' is neither topk nor quantize");
      };
    }
  }

  /**
   * How a refresh is compressed.
   *
   * @param ratio with {@link Kind#TOPK}: the dense vector's size over the payload's (above 1)
   * @param bits with {@link Kind#QUANTIZE}: bits per coordinate, 8 or 4
   */
  public record Settings(Kind kind, double ratio, int bits) {
    public Settings {
      if (kind == Kind.TOPK && !(ratio > 1)) {
        throw new IllegalArgumentException("a Top-k refresh needs a ratio above 1, got " + ratio);
      }
      if (kind == Kind.QUANTIZE && bits != 8 && bits != 4) {
        throw new IllegalArgumentException("a quantized refresh takes 8 or 4 bits per coordinate, got " + bits);
      }
    }

    /** Coordinates a Top-k refresh of a vector of {@code length} sends (at most all of them). */
    int k(int length) {
      return Math.max(1, Math.min(length, (int) Math.ceil(length / (2.0 * ratio))));
    }

    private int perWord() {
      return 32 / bits;
    }

    /**
     * The largest level of a quantized coordinate: 126 of 8 bits, 6 of 4. A coordinate takes one of
     * {@code 2 * levels + 1} codes, which skip {@link #skipped()} and the all-ones code (see {@link #pack}).
     */
    int levels() {
      return (1 << (bits - 1)) - 2;
    }

    /** The code no coordinate takes besides all ones: 127 of 8 bits, 7 of 4. */
    int skipped() {
      return (1 << (bits - 1)) - 1;
    }

    /** A payload's floats over the dense vector's, for a long vector. */
    public double share() {
      return kind == Kind.TOPK ? 1 / ratio : bits / 32.0 + 1.0 / CHUNK;
    }

    /** The payload's length in floats for a vector of {@code length}, the same on every side. */
    public int payloadLength(int length) {
      if (kind == Kind.TOPK) {
        return HEADER + 2 * k(length);
      }
      int chunks = (length + CHUNK - 1) / CHUNK;
      return HEADER + chunks + (length + perWord() - 1) / perWord();
    }
  }

  private final Settings settings;
  /** The receivers' copy, as this sender knows it. */
  private final float[] copy;

  /** A sender whose receivers hold {@code start} (the same weights on every device, as a plan starts). */
  public RefreshCodec(Settings settings, float[] start) {
    this.settings = settings;
    this.copy = start.clone();
  }

  /** The receivers' copy as this sender knows it (a view: not to be changed). */
  float[] copy() {
    return copy;
  }

  /**
   * The refresh of {@code weights}: the payload to send, and the copy moved as every receiver will
   * move its own.
   */
  public float[] encode(float[] weights) {
    if (weights.length != copy.length) {
      throw new IllegalArgumentException("refresh of " + weights.length + " floats for a copy of " + copy.length);
    }
    float[] payload = new float[settings.payloadLength(copy.length)];
    if (settings.kind() == Kind.TOPK) {
      int[] chosen = TopK.ofMagnitudes(settings.k(copy.length), 0, copy.length, i -> weights[i] - copy[i]);
      int k = chosen.length;
      for (int j = 0; j < k; j++) {
        // An index as float bits: below 2^23, a subnormal float, finite and copied as it is.
        payload[HEADER + j] = Float.intBitsToFloat(chosen[j]);
        payload[HEADER + k + j] = weights[chosen[j]];
      }
    } else {
      float[] change = new float[copy.length];
      for (int i = 0; i < copy.length; i++) {
        change[i] = weights[i] - copy[i];
      }
      quantize(change, payload);
    }
    apply(settings, copy, payload);
    writeChecksum(payload, checksum(copy));
    return payload;
  }

  /** The receivers were sent {@code weights} exactly (a plan's start, an exact refresh, a re-sync). */
  public void resync(float[] weights) {
    if (weights.length != copy.length) {
      throw new IllegalArgumentException("re-sync of " + weights.length + " floats for a copy of " + copy.length);
    }
    System.arraycopy(weights, 0, copy, 0, copy.length);
  }

  /**
   * Applies a refresh {@code payload} to a receiver's {@code copy} in place, as the sender applied it
   * to its own; answers whether the copy then matches the sender's (its checksum).
   */
  public static boolean receive(Settings settings, float[] copy, float[] payload) {
    if (payload.length != settings.payloadLength(copy.length)) {
      throw new IllegalArgumentException("a refresh payload of " + payload.length + " floats for a copy of "
          + copy.length + " (expected " + settings.payloadLength(copy.length) + ")");
    }
    apply(settings, copy, payload);
    return readChecksum(payload) == checksum(copy);
  }

  private static void apply(Settings settings, float[] copy, float[] payload) {
    if (settings.kind() == Kind.TOPK) {
      int k = settings.k(copy.length);
      for (int j = 0; j < k; j++) {
        int index = Float.floatToRawIntBits(payload[HEADER + j]);
        if (index < 0 || index >= copy.length) {
          throw new IllegalArgumentException("a refresh payload names coordinate " + index + " of a copy of "
              + copy.length);
        }
        copy[index] = payload[HEADER + k + j];
      }
      return;
    }
    int chunks = (copy.length + CHUNK - 1) / CHUNK;
    int perWord = settings.perWord();
    int levels = settings.levels();
    int mask = (1 << settings.bits()) - 1;
    for (int i = 0; i < copy.length; i++) {
      float scale = payload[HEADER + i / CHUNK];
      int word = Float.floatToRawIntBits(payload[HEADER + chunks + i / perWord]);
      int shift = settings.bits() * (perWord - 1 - i % perWord);
      int code = (word >>> shift) & mask;
      int q = (code < settings.skipped() ? code : code - 1) - levels;
      copy[i] = copy[i] + q * scale;
    }
  }

  /** {@code change} quantized into {@code payload}'s scales and packed words. */
  private void quantize(float[] change, float[] payload) {
    int length = change.length;
    int chunks = (length + CHUNK - 1) / CHUNK;
    int perWord = settings.perWord();
    int levels = settings.levels();
    int[] words = new int[(length + perWord - 1) / perWord];
    for (int c = 0; c < chunks; c++) {
      int from = c * CHUNK;
      int to = Math.min(length, from + CHUNK);
      float largest = 0f;
      for (int i = from; i < to; i++) {
        largest = Math.max(largest, Math.abs(change[i]));
      }
      // A chunk whose change is not finite is sent with scale 0 and left to an exact re-sync.
      float scale = Float.isFinite(largest) && largest > 0 ? largest / levels : 0f;
      payload[HEADER + c] = scale;
      for (int i = from; i < to; i++) {
        int q = scale == 0f ? 0 : Math.max(-levels, Math.min(levels, Math.round(change[i] / scale)));
        int v = q + levels;
        int code = v < settings.skipped() ? v : v + 1;
        words[i / perWord] |= code << (settings.bits() * (perWord - 1 - i % perWord));
      }
    }
    for (int w = 0; w < words.length; w++) {
      payload[HEADER + chunks + w] = pack(words[w]);
    }
  }

  /**
   * A word of codes as a float. A float is infinite or NaN when its exponent, bits 30 to 23, is all
   * ones, which needs the word's first code to be 0111... or 1111...; no code is either of those
   * ({@link Settings#skipped()} and the all-ones code are never used), so every word is a finite float.
   */
  private static float pack(int word) {
    return Float.intBitsToFloat(word);
  }

  /** FNV-1a over the floats' bits: the same copy gives the same sum on every device. */
  public static long checksum(float[] values) {
    long h = 0xcbf29ce484222325L;
    for (float v : values) {
      h ^= Float.floatToRawIntBits(v) & 0xffffffffL;
      h *= 0x100000001b3L;
    }
    return h;
  }

  private static void writeChecksum(float[] payload, long sum) {
    for (int i = 0; i < HEADER; i++) {
      payload[i] = (float) ((sum >>> (16 * i)) & 0xffff);
    }
  }

  private static long readChecksum(float[] payload) {
    long sum = 0;
    for (int i = 0; i < HEADER; i++) {
      sum |= ((long) payload[i] & 0xffff) << (16 * i);
    }
    return sum;
  }
}
