package org.dsparse.core.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * Reads the IDX format used by MNIST and Fashion-MNIST: a big-endian magic number
 * ({@code 0x00000803} for a 3-d array of unsigned-byte images, {@code 0x00000801} for a 1-d array
 * of unsigned-byte labels), one big-endian 32-bit size per dimension, then the data. Files may be
 * gzipped; that is detected from their first bytes, not their name.
 */
public final class IdxReader {
  static final int IMAGES_MAGIC = 0x00000803;
  static final int LABELS_MAGIC = 0x00000801;

  private IdxReader() {}

  /** Pairs the images file with its labels file; each label must be below {@code classes}. */
  public static ImageSet read(Path images, Path labels, int classes) throws IOException {
    try (DataFileInput imageInput = DataFileInput.open(images);
        DataFileInput labelInput = DataFileInput.open(labels)) {
      return read(imageInput, labelInput, classes);
    }
  }

  /**
   * As {@link #read(Path, Path, int)} for streams (e.g. classpath resources), which are closed;
   * the names identify them in error messages.
   */
  public static ImageSet read(InputStream images, String imagesName, InputStream labels, String labelsName,
      int classes) throws IOException {
    try (DataFileInput imageInput = DataFileInput.of(images, imagesName);
        DataFileInput labelInput = DataFileInput.of(labels, labelsName)) {
      return read(imageInput, labelInput, classes);
    }
  }

  private static ImageSet read(DataFileInput imageInput, DataFileInput labelInput, int classes) throws IOException {
    expectMagic(imageInput, IMAGES_MAGIC, "an IDX image file (3-d unsigned bytes)");
    int count = readDimension(imageInput, "image count");
    int height = readDimension(imageInput, "image height");
    int width = readDimension(imageInput, "image width");
    if (count == 0 || height == 0 || width == 0) {
      throw new DatasetFormatException(imageInput.name(), "header declares " + count + " images of " + height + "x"
          + width + " pixels: no data to train on");
    }
    long pixelCount = (long) count * height * width;
    if (pixelCount > Integer.MAX_VALUE - 16) {
      throw new DatasetFormatException(imageInput.name(), "header declares " + count + " images of " + height + "x"
          + width + " = " + pixelCount + " bytes, more than one array can hold");
    }
    byte[] pixels = imageInput.readFully((int) pixelCount, count + " images of " + height + "x" + width + " pixels");
    imageInput.expectEnd(count + " images");

    expectMagic(labelInput, LABELS_MAGIC, "an IDX label file (1-d unsigned bytes)");
    int labelCount = readDimension(labelInput, "label count");
    if (labelCount != count) {
      throw new DatasetFormatException(labelInput.name(), "declares " + labelCount + " labels but "
          + imageInput.name() + " declares " + count + " images");
    }
    byte[] labelBytes = labelInput.readFully(labelCount, labelCount + " labels");
    labelInput.expectEnd(labelCount + " labels");
    int[] labels = new int[labelCount];
    for (int i = 0; i < labelCount; i++) {
      labels[i] = labelBytes[i] & 0xff;
      if (labels[i] >= classes) {
        throw new DatasetFormatException(labelInput.name(), "label " + labels[i] + " of item " + i
            + " is not a class index below " + classes);
      }
    }
    return new ImageSet(pixels, count, 1, height, width, labels, classes);
  }

  private static void expectMagic(DataFileInput input, int expected, String kind) throws IOException {
    int magic = input.readInt("magic number");
    if (magic != expected) {
      throw new DatasetFormatException(input.name(), String.format(
          "magic number 0x%08x does not mark %s: expected 0x%08x%s", magic, kind, expected, describe(magic)));
    }
  }

  private static String describe(int magic) {
    if (magic == IMAGES_MAGIC) {
      return " (this is an IDX image file)";
    }
    if (magic == LABELS_MAGIC) {
      return " (this is an IDX label file)";
    }
    return "";
  }

  private static int readDimension(DataFileInput input, String what) throws IOException {
    int size = input.readInt(what);
    if (size < 0) {
      throw new DatasetFormatException(input.name(), what + " in the header is negative (" + size + ")");
    }
    return size;
  }
}
