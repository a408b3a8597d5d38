package org.dsparse.core.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the CIFAR-10 binary format: fixed-size records of one label byte followed by 3072 pixel
 * bytes (the 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, each plane
 * row-major), which is already the CHW layout of {@link ImageSet}. Files may be gzipped.
 */
public final class Cifar10Reader {
  public static final int CLASSES = 10;
  public static final int CHANNELS = 3;
  public static final int SIDE = 32;
  static final int IMAGE_BYTES = CHANNELS * SIDE * SIDE;
  static final int RECORD_BYTES = 1 + IMAGE_BYTES;

  private Cifar10Reader() {}

  /** Reads the files in order into one set. */
  public static ImageSet read(List<Path> files) throws IOException {
    List<Records> parts = new ArrayList<>(files.size());
    for (Path file : files) {
      try (DataFileInput input = DataFileInput.open(file)) {
        parts.add(readRecords(input));
      }
    }
    return join(parts);
  }

  /** Reads one stream (closed afterwards); {@code name} identifies it in error messages. */
  public static ImageSet read(InputStream stream, String name) throws IOException {
    try (DataFileInput input = DataFileInput.of(stream, name)) {
      return join(List.of(readRecords(input)));
    }
  }

  private record Records(byte[] bytes, int count) {}

  private static Records readRecords(DataFileInput input) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream(RECORD_BYTES * 10_000);
    byte[] chunk = new byte[RECORD_BYTES * 64];
    int read;
    while ((read = input.readUpTo(chunk, chunk.length, "CIFAR-10 records")) > 0) {
      all.write(chunk, 0, read);
    }
    byte[] bytes = all.toByteArray();
    int remainder = bytes.length % RECORD_BYTES;
    int count = bytes.length / RECORD_BYTES;
    if (bytes.length == 0) {
      throw new DatasetFormatException(input.name(), "is empty: expected records of " + RECORD_BYTES + " bytes");
    }
    if (remainder != 0) {
      throw new DatasetFormatException(input.name(), "truncated: " + bytes.length + " bytes is " + count
          + " whole records of " + RECORD_BYTES + " bytes plus " + remainder + " bytes of an incomplete record "
          + (count + 1));
    }
    for (int record = 0; record < count; record++) {
      int label = bytes[record * RECORD_BYTES] & 0xff;
      if (label >= CLASSES) {
        throw new DatasetFormatException(input.name(), "record " + record + " (byte offset " + (long) record * RECORD_BYTES
            + ") has label " + label + ", expected a class index below " + CLASSES
            + " (is this really a CIFAR-10 binary batch?)");
      }
    }
    return new Records(bytes, count);
  }

  private static ImageSet join(List<Records> parts) {
    long total = 0;
    for (Records part : parts) {
      total += part.count();
    }
    if (total * IMAGE_BYTES > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException(total + " CIFAR-10 images do not fit in one array");
    }
    int size = (int) total;
    byte[] pixels = new byte[size * IMAGE_BYTES];
    int[] labels = new int[size];
    int image = 0;
    for (Records part : parts) {
      for (int record = 0; record < part.count(); record++, image++) {
        int offset = record * RECORD_BYTES;
        labels[image] = part.bytes()[offset] & 0xff;
        System.arraycopy(part.bytes(), offset + 1, pixels, image * IMAGE_BYTES, IMAGE_BYTES);
      }
    }
    return new ImageSet(pixels, size, CHANNELS, SIDE, SIDE, labels, CLASSES);
  }
}
