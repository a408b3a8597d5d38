package org.dsparse.core.data;

import java.util.Arrays;

/**
 * Labelled images held in memory as unsigned bytes.
 *
 * <p>{@code pixels} holds {@code size} images one after another, each laid out channel-major
 * ({@code [channel][row][column]}, i.e. CHW), so image {@code i} starts at {@code i * imageBytes()}.
 * Label {@code i} is a class index in {@code [0, classes)}. The arrays are shared, not copied: treat
 * them as read-only.
 */
public record ImageSet(byte[] pixels, int size, int channels, int height, int width, int[] labels, int classes) {

  public ImageSet {
    if (size < 0 || channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException("image set dimensions must be positive: size=" + size
          + " channels=" + channels + " height=" + height + " width=" + width);
    }
    if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, got " + classes);
    }
    long expectedPixels = (long) size * channels * height * width;
    if (pixels.length != expectedPixels) {
      throw new IllegalArgumentException("expected " + expectedPixels + " pixel bytes for " + size + " images of "
          + channels + "x" + height + "x" + width + ", got " + pixels.length);
    }
    if (labels.length != size) {
      throw new IllegalArgumentException("expected " + size + " labels, got " + labels.length);
    }
    for (int i = 0; i < size; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        throw new IllegalArgumentException("label " + labels[i] + " of image " + i + " is outside [0, " + classes + ")");
      }
    }
  }

  /** Bytes per image: channels * height * width. */
  public int imageBytes() {
    return channels * height * width;
  }

  /** The images at {@code indices}, in that order (an index may repeat). */
  public ImageSet subset(int[] indices) {
    int imageBytes = imageBytes();
    byte[] subsetPixels = new byte[Math.multiplyExact(indices.length, imageBytes)];
    int[] subsetLabels = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      int index = indices[i];
      if (index < 0 || index >= size) {
        throw new IndexOutOfBoundsException("subset index " + index + " is outside [0, " + size + ")");
      }
      System.arraycopy(pixels, index * imageBytes, subsetPixels, i * imageBytes, imageBytes);
      subsetLabels[i] = labels[index];
    }
    return new ImageSet(subsetPixels, indices.length, channels, height, width, subsetLabels, classes);
  }

  /**
   * The images of classes {@code kept} (distinct), in order, labelled by their class's position in
   * {@code kept}: what a sub-model that outputs only those classes trains on.
   */
  public ImageSet ofClasses(int[] kept) {
    int[] position = new int[classes];
    Arrays.fill(position, -1);
    for (int k = 0; k < kept.length; k++) {
      if (kept[k] < 0 || kept[k] >= classes || position[kept[k]] >= 0) {
        throw new IllegalArgumentException("classes " + Arrays.toString(kept) + " are not distinct classes of [0, "
            + classes + ")");
      }
      position[kept[k]] = k;
    }
    int[] indices = java.util.stream.IntStream.range(0, size).filter(i -> position[labels[i]] >= 0).toArray();
    ImageSet subset = subset(indices);
    int[] relabelled = Arrays.stream(subset.labels).map(label -> position[label]).toArray();
    return new ImageSet(subset.pixels, subset.size, channels, height, width, relabelled, kept.length);
  }

  /** How many images carry each label, indexed by class. */
  public int[] classCounts() {
    int[] counts = new int[classes];
    for (int label : labels) {
      counts[label]++;
    }
    return counts;
  }

  /** Equal when the dimensions, classes, pixels and labels are equal (records compare arrays by identity). */
  @Override
  public boolean equals(Object other) {
    return other instanceof ImageSet that
        && size == that.size && channels == that.channels && height == that.height && width == that.width
        && classes == that.classes && Arrays.equals(labels, that.labels) && Arrays.equals(pixels, that.pixels);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(labels) + Arrays.hashCode(pixels);
  }

  @Override
  public String toString() {
    return "ImageSet[size=" + size + ", " + channels + "x" + height + "x" + width + ", classes=" + classes
        + ", classCounts=" + Arrays.toString(classCounts()) + "]";
  }
}
