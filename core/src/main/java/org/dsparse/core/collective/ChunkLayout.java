package org.dsparse.core.collective;

/**
 * Cuts a buffer of {@code length} floats into {@code parts} contiguous parts whose sizes differ by at
 * most one, and every part into the same number of chunks, none longer than {@code maxChunkFloats}.
 *
 * <p>Every part has the same chunk count (chunks of short parts are shorter, possibly empty) so that a
 * chunk index means the same thing at every ring step: chunk {@code c} received at step {@code t}
 * is exactly what must be sent on as chunk {@code c} at step {@code t + 1}.
 */
public final class ChunkLayout {
  private final int length;
  private final int parts;
  private final int chunksPerPart;

  private ChunkLayout(int length, int parts, int chunksPerPart) {
    this.length = length;
    this.parts = parts;
    this.chunksPerPart = chunksPerPart;
  }

  public static ChunkLayout of(int length, int parts, int maxChunkFloats) {
    if (length < 0) {
      throw new IllegalArgumentException("buffer length must be >= 0, was " + length);
    }
    if (parts < 1) {
      throw new IllegalArgumentException("parts must be >= 1, was " + parts);
    }
    if (maxChunkFloats < 1) {
      throw new IllegalArgumentException("maxChunkFloats must be >= 1, was " + maxChunkFloats);
    }
    int longestPart = (int) (((long) length + parts - 1) / parts);
    int chunks = Math.max(1, (longestPart + maxChunkFloats - 1) / maxChunkFloats);
    return new ChunkLayout(length, parts, chunks);
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
    return (int) ((long) part * length / parts);
  }

  public int partLength(int part) {
    checkPart(part);
    return (int) ((long) (part + 1) * length / parts) - partOffset(part);
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
