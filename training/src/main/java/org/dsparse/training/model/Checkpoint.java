package org.dsparse.training.model;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.CRC32;

/**
 * A model's weights and buffers on disk, layer by layer under their names, with a checksum. Written
 * to a temporary file and moved into place, so a crash never leaves a half-written checkpoint where
 * a good one was.
 */
public final class Checkpoint {
  private static final int MAGIC = 0x44535043; // "DSPC"
  private static final int VERSION = 1;

  private Checkpoint() {}

  public static void save(LayeredModel model, Path path) throws IOException {
    Path parent = path.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempFile(parent, path.getFileName().toString(), ".tmp");
    CRC32 crc = new CRC32();
    try (OutputStream file = Files.newOutputStream(tmp)) {
      DataOutputStream out = new DataOutputStream(
          new java.util.zip.CheckedOutputStream(new java.io.BufferedOutputStream(file), crc));
      out.writeInt(MAGIC);
      out.writeInt(VERSION);
      out.writeUTF(model.name());
      out.writeUTF(Shapes.format(model.sampleShape()));
      out.writeInt(model.classes());
      out.writeInt(model.layerCount());
      for (int i = 0; i < model.layerCount(); i++) {
        float[] weights = model.exportWeights(new int[] {i});
        out.writeUTF(model.layer(i).name());
        out.writeInt(weights.length);
        for (float w : weights) {
          out.writeFloat(w);
        }
      }
      out.flush();
      // The checksum trailer goes straight to the file, outside what it sums.
      DataOutputStream trailer = new DataOutputStream(file);
      trailer.writeLong(crc.getValue());
      trailer.flush();
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try {
      Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Loads weights into {@code model}, which must be the same network; every mismatch (another model,
   * a missing layer, a wrong size, a bad checksum, a truncated file) names the file and what differs.
   */
  public static void load(LayeredModel model, Path path) throws IOException {
    if (!Files.isRegularFile(path)) {
      throw new IOException("checkpoint " + path + " does not exist or is not a file");
    }
    long size = Files.size(path);
    if (size < Long.BYTES + 8) {
      throw new IOException("checkpoint " + path + " is truncated (" + size + " bytes)");
    }
    CRC32 crc = new CRC32();
    float[][] layers = new float[model.layerCount()][];
    try (InputStream raw = Files.newInputStream(path);
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(
            new java.util.zip.CheckedInputStream(new BoundedInput(raw, size - Long.BYTES), crc)))) {
      if (in.readInt() != MAGIC) {
        throw new IOException("checkpoint " + path + " is not a dsparse checkpoint (wrong magic number)");
      }
      int version = in.readInt();
      if (version != VERSION) {
        throw new IOException("checkpoint " + path + " has format version " + version + ", expected " + VERSION);
      }
      String name = in.readUTF();
      String shape = in.readUTF();
      int classes = in.readInt();
      String expectedShape = Shapes.format(model.sampleShape());
      if (!name.equals(model.name()) || !shape.equals(expectedShape) || classes != model.classes()) {
        throw new IOException("checkpoint " + path + " holds " + name + " " + shape + " with " + classes
            + " classes, not " + model.name() + " " + expectedShape + " with " + model.classes());
      }
      int count = in.readInt();
      if (count != model.layerCount()) {
        throw new IOException("checkpoint " + path + " has " + count + " layers, the model "
            + model.layerCount());
      }
      for (int i = 0; i < count; i++) {
        String layer = in.readUTF();
        int length = in.readInt();
        int expected = model.weightLength(new int[] {i});
        if (!layer.equals(model.layer(i).name()) || length != expected) {
          throw new IOException("checkpoint " + path + ": layer " + i + " is " + layer + " with " + length
              + " values, the model's is " + model.layer(i).name() + " with " + expected);
        }
        float[] weights = new float[length];
        for (int j = 0; j < length; j++) {
          weights[j] = in.readFloat();
        }
        layers[i] = weights;
      }
    } catch (EOFException e) {
      throw new IOException("checkpoint " + path + " is truncated", e);
    }
    long stored;
    try (DataInputStream in = new DataInputStream(Files.newInputStream(path))) {
      in.skipNBytes(size - Long.BYTES);
      stored = in.readLong();
    }
    if (stored != crc.getValue()) {
      throw new IOException("checkpoint " + path + " is corrupt (checksum mismatch)");
    }
    for (int i = 0; i < layers.length; i++) {
      model.importWeights(new int[] {i}, layers[i]);
    }
  }

  /** Reads at most {@code limit} bytes: the checksummed body, not the trailer. */
  private static final class BoundedInput extends java.io.FilterInputStream {
    private long remaining;

    BoundedInput(InputStream in, long limit) {
      super(in);
      this.remaining = limit;
    }

    @Override
    public int read() throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int b = super.read();
      if (b >= 0) {
        remaining--;
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int n = super.read(buffer, offset, (int) Math.min(length, remaining));
      if (n > 0) {
        remaining -= n;
      }
      return n;
    }
  }
}
