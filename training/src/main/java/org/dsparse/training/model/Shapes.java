package org.dsparse.training.model;

import ai.djl.ndarray.types.Shape;

/** Sample shapes as users write them: {@code 1x28x28}. */
public final class Shapes {
  private Shapes() {}

  public static String format(Shape shape) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < shape.dimension(); i++) {
      if (i > 0) {
        s.append('x');
      }
      s.append(shape.get(i));
    }
    return s.toString();
  }

  /** Reads {@code CxHxW}; the error says what was given. */
  public static Shape parse(String text) {
    String[] parts = text.trim().split("x");
    if (parts.length != 3) {
      throw new IllegalArgumentException("sample shape '" + text + "' is not CxHxW (e.g. 1x28x28)");
    }
    long[] dims = new long[3];
    for (int i = 0; i < 3; i++) {
      try {
        dims[i] = Long.parseLong(parts[i]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("sample shape '" + text + "' is not CxHxW (e.g. 1x28x28)");
      }
      if (dims[i] <= 0) {
        throw new IllegalArgumentException("sample shape '" + text + "' has a non-positive size");
      }
    }
    return new Shape(dims);
  }
}
