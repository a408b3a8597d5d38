package org.dsparse.core.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * A data file being read start to end, transparently gunzipped when it begins with the gzip magic
 * bytes {@code 1f 8b} (whatever its name). Every read names the file in its errors: a short read
 * or a corrupt gzip stream becomes a {@link DatasetFormatException} saying what was being read,
 * how many bytes were expected and how many were found.
 */
final class DataFileInput implements AutoCloseable {
  private static final int GZIP_MAGIC_1 = 0x1f;
  private static final int GZIP_MAGIC_2 = 0x8b;
  private static final int FIRST_CHUNK = 1 << 20;

  private final InputStream in;
  private final String name;
  private final boolean gzipped;
  private long position;

  private DataFileInput(InputStream raw, String name) throws IOException {
    this.name = name;
    BufferedInputStream buffered = new BufferedInputStream(raw, 1 << 16);
    buffered.mark(2);
    int first = buffered.read();
    int second = buffered.read();
    buffered.reset();
    this.gzipped = first == GZIP_MAGIC_1 && second == GZIP_MAGIC_2;
    this.in = gzipped ? gunzip(buffered, name) : buffered;
  }

  static DataFileInput open(Path file) throws IOException {
    return new DataFileInput(Files.newInputStream(file), file.toString());
  }

  /** Reads {@code stream} (closed by {@link #close()}); {@code name} identifies it in errors. */
  static DataFileInput of(InputStream stream, String name) throws IOException {
    return new DataFileInput(stream, name);
  }

  private static InputStream gunzip(InputStream buffered, String name) throws IOException {
    try {
      return new GZIPInputStream(buffered, 1 << 16);
    } catch (ZipException | EOFException e) {
      throw new DatasetFormatException(name, "starts like a gzip file but its gzip header is corrupt ("
          + e.getMessage() + ")", e);
    }
  }

  String name() {
    return name;
  }

  /** Reads a big-endian 32-bit integer, {@code what} naming the field in errors. */
  int readInt(String what) throws IOException {
    byte[] b = readFully(4, what);
    return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
  }

  /** Reads exactly {@code length} bytes; fewer means the file is truncated. */
  byte[] readFully(int length, String what) throws IOException {
    // Grown as the data comes: a header that lies about a huge size then costs what the file holds,
    // not an array of the size it claims.
    byte[] bytes = new byte[Math.min(length, FIRST_CHUNK)];
    int read = 0;
    while (true) {
      int got = readUpTo(bytes, read, bytes.length - read, what);
      read += got;
      if (read < bytes.length || bytes.length == length) {
        break;
      }
      bytes = java.util.Arrays.copyOf(bytes, (int) Math.min(length, 2L * bytes.length));
    }
    if (read < length) {
      throw new DatasetFormatException(name, "truncated: expected " + length + " bytes of " + what
          + " at " + (gzipped ? "uncompressed " : "") + "offset " + (position - read) + ", found only " + read);
    }
    return bytes;
  }

  /** Reads up to {@code length} bytes, fewer only at the end of the data. */
  int readUpTo(byte[] into, int length, String what) throws IOException {
    return readUpTo(into, 0, length, what);
  }

  private int readUpTo(byte[] into, int offset, int length, String what) throws IOException {
    try {
      int read = in.readNBytes(into, offset, length);
      position += read;
      return read;
    } catch (ZipException | EOFException e) {
      throw new DatasetFormatException(name, "corrupt or truncated gzip data while reading " + what
          + " near uncompressed offset " + position + " (" + e.getMessage() + ")", e);
    }
  }

  /** Fails if anything follows the expected content, which means the header lied about the size. */
  void expectEnd(String expectedContent) throws IOException {
    byte[] probe = new byte[1 << 16];
    long extra = 0;
    int read;
    while ((read = readUpTo(probe, probe.length, "trailing data")) > 0) {
      extra += read;
    }
    if (extra > 0) {
      throw new DatasetFormatException(name, "expected the data to end after " + expectedContent + ", found "
          + extra + " more bytes");
    }
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
