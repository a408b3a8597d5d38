package org.dsparse.core.collective;

/**
 * Cuts a buffer of {@code length} floats into {@code parts} contiguous parts whose sizes differ by at
 * most one (or of given sizes), and every part into the same number of chunks, none longer than
 * {@code maxChunkFloats}.
 *
 * <p>Every part has the same chunk count (chunks of short parts are shorter, possibly empty) so that a
 * chunk index means the same thing at every ring step: chunk {@code c} received at step {@code t}
 * is exactly what must be sent on as chunk {@code c} at step {@code t + 1}.
 *
 * <p>A ring reduces each element in an order set by the part it is in. Given part sizes let a caller
 * put every element in a part of its choosing, e.g. the same part whether its vector is reduced
 * whole or in pieces.
 */
public final class ChunkLayout {
  private final int length;
  private final int chunksPerPart;
  /** Where each part starts, and the buffer's end. */
  private final int[] boundaries;

  private ChunkLayout(int length, int chunksPerPart, int[] boundaries) {
    this.length = length;
    this.chunksPerPart = chunksPerPart;
    this.boundaries = boundaries;
  }

  public static ChunkLayout of(int length, int parts, int maxChunkFloats) {
    if (length < 0) {
      throw new IllegalArgumentException("buffer length must be >= 0, was " + length);
    }
    if (parts < 1) {
      throw new IllegalArgumentException("parts must be >= 1, was " + parts);
    }
    int[] lengths = new int[parts];
    for (int part = 0; part < parts; part++) {
      lengths[part] = (int) ((long) (part + 1) * length / parts - (long) part * length / parts);
    }
    return ofParts(lengths, maxChunkFloats);
  }

  /** A buffer made of parts of these lengths, in order. */
  public static ChunkLayout ofParts(int[] partLengths, int maxChunkFloats) {
    if (partLengths.length < 1) {
      throw new IllegalArgumentException("parts must be >= 1, was " + partLengths.length);
    }
    if (maxChunkFloats < 1) {
      throw new IllegalArgumentException("maxChunkFloats must be >= 1, was " + maxChunkFloats);
    }
    int[] boundaries = new int[partLengths.length + 1];
    int longestPart = 0;
    for (int part = 0; part < partLengths.length; part++) {
      if (partLengths[part] < 0) {
        throw new IllegalArgumentException("part " + part + " has length " + partLengths[part]);
      }
      boundaries[part + 1] = Math.addExact(boundaries[part], partLengths[part]);
      longestPart = Math.max(longestPart, partLengths[part]);
    }
    int chunks = Math.max(1, (longestPart + maxChunkFloats - 1) / maxChunkFloats);
    return new ChunkLayout(boundaries[partLengths.length], chunks, boundaries);
  }

  public int length() {
    return length;
  }

  public int parts() {
    return boundaries.length - 1;
  }

  public int chunksPerPart() {
    return chunksPerPart;
  }

  public int partOffset(int part) {
    checkPart(part);
    return boundaries[part];
  }

  public int partLength(int part) {
    checkPart(part);
    return boundaries[part + 1] - boundaries[part];
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
    if (part < 0 || part >= parts()) {
      throw new IndexOutOfBoundsException("part " + part + " outside [0, " + parts() + ")");
    }
  }

  private void checkChunk(int chunk) {
    if (chunk < 0 || chunk >= chunksPerPart) {
      throw new IndexOutOfBoundsException("chunk " + chunk + " outside [0, " + chunksPerPart + ")");
    }
  }
}
