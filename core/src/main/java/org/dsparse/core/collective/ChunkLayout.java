package org.dsparse.core.collective;

/**
 * Cuts a buffer of {@code length} floats into {@code parts} contiguous parts whose sizes differ by at
 * most one, and every part into the same number of chunks, none longer than {@code maxChunkFloats}.
 *
 * <p>A buffer may also be a window, floats {@code [offset, offset + length)} of a vector of
 * {@code total}: its parts are then the vector's parts clipped to the window (some empty), so that
 * every element falls in the part it would fall in within the whole vector. A ring reduces each
 * element in an order set by its part, so cutting a vector into windows changes no sum's rounding.
 *
 * <p>Every part has the same chunk count (chunks of short parts are shorter, possibly empty) so that a
 * chunk index means the same thing at every ring step: chunk {@code c} received at step {@code t}
 * is exactly what must be sent on as chunk {@code c} at step {@code t + 1}.
 */
public final class ChunkLayout {
  private final int length;
  private final int parts;
  private final int chunksPerPart;
  /** Where the buffer starts in the vector it is a window of, and that vector's length. */
  private final int offset;
  private final int total;

  private ChunkLayout(int length, int parts, int chunksPerPart, int offset, int total) {
    this.length = length;
    this.parts = parts;
    this.chunksPerPart = chunksPerPart;
    this.offset = offset;
    this.total = total;
  }

  public static ChunkLayout of(int length, int parts, int maxChunkFloats) {
    return window(0, length, length, parts, maxChunkFloats);
  }

  /** The layout of floats {@code [offset, offset + length)} of a vector of {@code total}. */
  public static ChunkLayout window(int offset, int length, int total, int parts, int maxChunkFloats) {
    if (length < 0) {
      throw new IllegalArgumentException("buffer length must be >= 0, was " + length);
    }
    if (offset < 0 || (long) offset + length > total) {
      throw new IllegalArgumentException("window [" + offset + ", " + ((long) offset + length)
          + ") is not inside a vector of " + total);
    }
    if (parts < 1) {
      throw new IllegalArgumentException("parts must be >= 1, was " + parts);
    }
    if (maxChunkFloats < 1) {
      throw new IllegalArgumentException("maxChunkFloats must be >= 1, was " + maxChunkFloats);
    }
    ChunkLayout unchunked = new ChunkLayout(length, parts, 1, offset, total);
    int longestPart = 0;
    for (int part = 0; part < parts; part++) {
      longestPart = Math.max(longestPart, unchunked.partLength(part));
    }
    int chunks = Math.max(1, (longestPart + maxChunkFloats - 1) / maxChunkFloats);
    return new ChunkLayout(length, parts, chunks, offset, total);
  }

  public int length() {
    return length;
  }

  public int parts() {
    return parts;
  }

  public int chunksPerPart() {
    return chunksPerPart;
  }

  public int partOffset(int part) {
    checkPart(part);
    return boundary(part);
  }

  public int partLength(int part) {
    checkPart(part);
    return boundary(part + 1) - boundary(part);
  }

  /** Where part {@code part} starts in the buffer: the vector's boundary, clipped to the window. */
  private int boundary(int part) {
    long inVector = (long) part * total / parts - offset;
    return (int) Math.max(0, Math.min(length, inVector));
  }

  public int chunkOffset(int part, int chunk) {
    checkChunk(chunk);
    return partOffset(part) + (int) ((long) chunk * partLength(part) / chunksPerPart);
  }

  public int chunkLength(int part, int chunk) {
    checkChunk(chunk);
    int partLength = partLength(part);
    long start = (long) chunk * partLength / chunksPerPart;
    long end = (long) (chunk + 1) * partLength / chunksPerPart;
    return (int) (end - start);
  }

  private void checkPart(int part) {
    if (part < 0 || part >= parts) {
      throw new IndexOutOfBoundsException("part " + part + " outside [0, " + parts + ")");
    }
  }

  private void checkChunk(int chunk) {
    if (chunk < 0 || chunk >= chunksPerPart) {
      throw new IndexOutOfBoundsException("chunk " + chunk + " outside [0, " + chunksPerPart + ")");
    }
  }
}
