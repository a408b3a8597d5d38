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
 * A model's weights and buffers on disk, layer by layer under their names, with a checksum, and
 * optionally the {@link TrainingState} that lets training continue exactly where it was. Written to
 * a temporary file and moved into place, so a crash never leaves a half-written checkpoint where a
 * good one was. Version 1 files (weights only) still load.
 */
public final class Checkpoint {
  private static final int MAGIC = 0x44535043; // "DSPC"
  private static final int VERSION = 2;
  /** A file announcing more than this much text is refused before anything is allocated. */
  private static final int MAX_TEXT_BYTES = 1 << 24;

  private Checkpoint() {}

  /**
   * Where a job was, and what its optimizer held, when the checkpoint was written.
   *
   * @param jobId the job
   * @param epoch the epoch to continue in
   * @param stepInEpoch steps of that epoch already done (the data order's position)
   * @param step steps done in all
   * @param optimizer the optimizer's kind, as the job names it
   * @param optimizerUpdates updates its most-updated parameter had (Adam's bias correction)
   * @param optimizerState the optimizer's state of the slices the writer updated
   * @param plan the plan that trained until here, as text
   */
  public record TrainingState(String jobId, int epoch, int stepInEpoch, long step, String optimizer,
      int optimizerUpdates, java.util.List<SliceState> optimizerState, String plan) {
    public TrainingState {
      optimizerState = java.util.List.copyOf(optimizerState);
      if (epoch < 0 || stepInEpoch < 0 || step < 0 || optimizerUpdates < 0) {
        throw new IllegalArgumentException("epoch, steps and updates must not be negative: " + epoch + ", "
            + stepInEpoch + ", " + step + ", " + optimizerUpdates);
      }
    }
  }

  /**
   * The optimizer's state of one channel slice, laid out as a trainer exports it
   * ({@code SparseTrainer#exportOptimizerState}).
   */
  public record SliceState(ChannelSlice slice, float[] state) {}

  public static void save(LayeredModel model, Path path) throws IOException {
    save(model, path, null);
  }

  /** Saves the weights and, unless {@code state} is null, where training was. */
  public static void save(LayeredModel model, Path path, TrainingState state) throws IOException {
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
      out.writeBoolean(state != null);
      if (state != null) {
        writeState(out, model, state);
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

  private static void writeState(DataOutputStream out, LayeredModel model, TrainingState state) throws IOException {
    writeText(out, state.jobId());
    out.writeInt(state.epoch());
    out.writeInt(state.stepInEpoch());
    out.writeLong(state.step());
    writeText(out, state.optimizer());
    out.writeInt(state.optimizerUpdates());
    out.writeInt(state.optimizerState().size());
    for (SliceState entry : state.optimizerState()) {
      ChannelSlice slice = entry.slice();
      if (slice.layer() >= model.layerCount() || slice.to() > model.layer(slice.layer()).outputChannels()) {
        throw new IllegalArgumentException("optimizer state for " + slice + ", outside " + model.name());
      }
      out.writeInt(slice.layer());
      out.writeInt(slice.from());
      out.writeInt(slice.to());
      out.writeInt(entry.state().length);
      for (float v : entry.state()) {
        out.writeFloat(v);
      }
    }
    writeText(out, state.plan());
  }

  /** Text of any length (writeUTF stops at 64 KiB). */
  private static void writeText(DataOutputStream out, String text) throws IOException {
    byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static String readText(DataInputStream in, Path path, String what) throws IOException {
    int length = in.readInt();
    if (length < 0 || length > MAX_TEXT_BYTES) {
      throw new IOException("checkpoint " + path + ": " + what + " announces " + length + " bytes");
    }
    return new String(in.readNBytes(length), java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * Loads weights into {@code model}, which must be the same network, and answers the training state
   * the file holds, if any; every mismatch (another model, a missing layer, a wrong size, a bad
   * checksum, a truncated file) names the file and what differs, and leaves the model as it was.
   */
  public static java.util.Optional<TrainingState> load(LayeredModel model, Path path) throws IOException {
    return load(model, path, false);
  }

  /**
   * {@link #load}, accepting a checkpoint of the same network trained at another image size (the same
   * channels): a convolutional network's weights do not depend on it, and every layer's size is
   * still checked. E.g. fine-tuning at 112 x 112 from weights trained at 28 x 28.
   */
  public static java.util.Optional<TrainingState> loadAtAnyResolution(LayeredModel model, Path path)
      throws IOException {
    return load(model, path, true);
  }

  private static java.util.Optional<TrainingState> load(LayeredModel model, Path path, boolean anyResolution)
      throws IOException {
    if (!Files.isRegularFile(path)) {
      throw new IOException("checkpoint " + path + " does not exist or is not a file");
    }
    long size = Files.size(path);
    if (size < Long.BYTES + 8) {
      throw new IOException("checkpoint " + path + " is truncated (" + size + " bytes)");
    }
    CRC32 crc = new CRC32();
    float[][] layers = new float[model.layerCount()][];
    TrainingState state = null;
    try (InputStream raw = Files.newInputStream(path);
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(
            new java.util.zip.CheckedInputStream(new BoundedInput(raw, size - Long.BYTES), crc)))) {
      if (in.readInt() != MAGIC) {
        throw new IOException("checkpoint " + path + " is not a dsparse checkpoint (wrong magic number)");
      }
      int version = in.readInt();
      if (version != 1 && version != VERSION) {
        throw new IOException("checkpoint " + path + " has format version " + version + ", expected 1 or " + VERSION);
      }
      String name = in.readUTF();
      String shape = in.readUTF();
      int classes = in.readInt();
      String expectedShape = Shapes.format(model.sampleShape());
      boolean shapeFits = shape.equals(expectedShape) || (anyResolution
          && shape.split("x")[0].equals(expectedShape.split("x")[0]));
      if (!name.equals(model.name()) || !shapeFits || classes != model.classes()) {
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
      if (version >= 2 && in.readBoolean()) {
        state = readState(in, path, model, size);
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
    return java.util.Optional.ofNullable(state);
  }

  private static TrainingState readState(DataInputStream in, Path path, LayeredModel model, long size)
      throws IOException {
    String jobId = readText(in, path, "the job id");
    int epoch = in.readInt();
    int stepInEpoch = in.readInt();
    long step = in.readLong();
    String optimizer = readText(in, path, "the optimizer");
    int updates = in.readInt();
    int slices = in.readInt();
    // Every entry takes at least 16 bytes of the file: a larger count is a damaged file.
    if (slices < 0 || slices > size / 16) {
      throw new IOException("checkpoint " + path + ": optimizer state announces " + slices + " slices");
    }
    java.util.List<SliceState> optimizerState = new java.util.ArrayList<>();
    for (int i = 0; i < slices; i++) {
      int layer = in.readInt();
      int from = in.readInt();
      int to = in.readInt();
      int length = in.readInt();
      // Each float takes 4 bytes of the file: a larger count is a damaged file, refused before allocating.
      if (layer < 0 || layer >= model.layerCount() || from < 0 || to <= from
          || to > model.layer(layer).outputChannels() || length < 0 || length > size / 4) {
        throw new IOException("checkpoint " + path + ": optimizer state entry " + i + " (layer " + layer + " ["
            + from + ", " + to + "), " + length + " floats) does not fit " + model.name());
      }
      float[] values = new float[length];
      for (int j = 0; j < length; j++) {
        values[j] = in.readFloat();
      }
      optimizerState.add(new SliceState(new ChannelSlice(layer, from, to), values));
    }
    String plan = readText(in, path, "the plan");
    try {
      return new TrainingState(jobId, epoch, stepInEpoch, step, optimizer, updates, optimizerState, plan);
    } catch (IllegalArgumentException e) {
      throw new IOException("checkpoint " + path + ": " + e.getMessage());
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
