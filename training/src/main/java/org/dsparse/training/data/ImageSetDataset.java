package org.dsparse.training.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.BatchSampler;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.dsparse.core.data.EpochOrder;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Normalization;
import org.dsparse.training.model.NativeFloats;

/**
 * An in-memory {@link ImageSet} as a DJL dataset. Each image becomes float32 {@code [C, H, W]}:
 * bytes scaled to [0, 1], then normalized per channel, optionally padded (centred) to a larger
 * square, e.g. 28x28 Fashion-MNIST to the 32x32 a CIFAR-shaped network expects. Padding is
 * black (byte 0) before normalization, as torchvision's Pad-then-Normalize does. Each label is a
 * float32 scalar class index, so DJL's default stacking gives {@code [B, C, H, W]} and {@code [B]}.
 *
 * <p>Besides DJL's {@code getData}, {@link #batches} builds whole batches directly from the bytes
 * in a seeded order, without DJL's per-sample records and batchifier.
 */
public final class ImageSetDataset extends RandomAccessDataset {
  private final ImageSet images;
  private final Normalization normalization;
  private final boolean padded;
  private final int upsample;
  private final int height;
  private final int width;
  private final float[][] lookup;

  private ImageSetDataset(Builder builder) {
    super(builder);
    this.images = builder.images;
    this.normalization = builder.normalization;
    this.upsample = builder.upsample;
    this.height = builder.padTo > 0 ? builder.padTo : images.height() * upsample;
    this.width = builder.padTo > 0 ? builder.padTo : images.width() * upsample;
    this.padded = builder.padTo > 0;
    this.lookup = normalization.lookupTable();
  }

  public static Builder builder() {
    return new Builder();
  }

  public ImageSet imageSet() {
    return images;
  }

  public Normalization normalization() {
    return normalization;
  }

  /** Shape of one image tensor, {@code [C, H, W]}, after padding or upsampling. */
  public Shape imageShape() {
    return new Shape(images.channels(), height, width);
  }

  @Override
  public Record get(NDManager manager, long index) {
    int i = Math.toIntExact(index);
    NDArray image = manager.create(toFloats(new int[] {i}), imageShape());
    NDArray label = manager.create((float) images.labels()[i]);
    return new Record(new NDList(image), new NDList(label));
  }

  @Override
  protected long availableSize() {
    return images.size();
  }

  /** The data is already in memory. */
  @Override
  public void prepare(Progress progress) {}

  /** How many batches {@link #batches} yields: the last one may be smaller. */
  public int batchCount(int batchSize) {
    requirePositive(batchSize);
    return (int) ((size() + batchSize - 1) / batchSize);
  }

  /**
   * The batches of one epoch in {@link EpochOrder} for {@code seed} and {@code epoch}, so two runs
   * with the same arguments see identical batches. All samples are visited; the last batch holds
   * the remainder. Tensors are created lazily on the iterating thread in {@code manager}; close
   * each batch (or the manager) when done with it.
   */
  public Iterable<ImageBatch> batches(NDManager manager, int batchSize, long seed, int epoch) {
    return batches(manager, batchSize, seed, epoch, 0);
  }

  /** {@link #batches(NDManager, int, long, int)} from batch {@code firstBatch} of the epoch on. */
  public Iterable<ImageBatch> batches(NDManager manager, int batchSize, long seed, int epoch, int firstBatch) {
    requirePositive(batchSize);
    if (firstBatch < 0) {
      throw new IllegalArgumentException("first batch must not be negative, got " + firstBatch);
    }
    int[] order = EpochOrder.permutation(Math.toIntExact(size()), seed, epoch);
    int start = (int) Math.min(order.length, (long) firstBatch * batchSize);
    return () -> new Iterator<>() {
      private int next = start;

      @Override
      public boolean hasNext() {
        return next < order.length;
      }

      @Override
      public ImageBatch next() {
        if (!hasNext()) {
          throw new NoSuchElementException("epoch " + epoch + " has no more batches");
        }
        int[] indices = Arrays.copyOfRange(order, next, Math.min(next + batchSize, order.length));
        next += indices.length;
        return batchOf(manager, indices);
      }
    };
  }

  /** The samples at {@code indices} as one batch, in that order. */
  public ImageBatch batchOf(NDManager manager, int[] indices) {
    float[] labels = new float[indices.length];
    for (int b = 0; b < indices.length; b++) {
      labels[b] = images.labels()[indices[b]];
    }
    NDArray x = NativeFloats.tensor(manager, toFloats(indices), 0,
        new Shape(indices.length, images.channels(), height, width));
    NDArray y = NativeFloats.tensor(manager, labels, 0, new Shape(indices.length));
    return new ImageBatch(x, y, indices.clone());
  }

  private float[] toFloats(int[] indices) {
    int channels = images.channels();
    int sourceHeight = images.height();
    int sourceWidth = images.width();
    int top = (height - sourceHeight) / 2;
    int left = (width - sourceWidth) / 2;
    int plane = height * width;
    float[] out = new float[indices.length * channels * plane];
    byte[] pixels = images.pixels();
    int imageBytes = images.imageBytes();
    for (int b = 0; b < indices.length; b++) {
      int source = indices[b] * imageBytes;
      for (int c = 0; c < channels; c++) {
        float[] table = lookup[c];
        int target = (b * channels + c) * plane;
        if (padded) {
          Arrays.fill(out, target, target + plane, table[0]);
        }
        if (upsample > 1) {
          for (int row = 0; row < height; row++) {
            int from = source + (row / upsample) * sourceWidth;
            int to = target + row * width;
            for (int col = 0; col < width; col++) {
              out[to + col] = table[pixels[from + col / upsample] & 0xff];
            }
          }
          source += sourceHeight * sourceWidth;
          continue;
        }
        for (int row = 0; row < sourceHeight; row++) {
          int to = target + (row + top) * width + left;
          for (int col = 0; col < sourceWidth; col++) {
            out[to + col] = table[pixels[source++] & 0xff];
          }
        }
      }
    }
    return out;
  }

  private static void requirePositive(int batchSize) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
    }
  }

  /** Builds an {@link ImageSetDataset}; an image set and a sampling are required. */
  public static final class Builder extends BaseBuilder<Builder> {
    private ImageSet images;
    private Normalization normalization;
    private int padTo;
    private int upsample = 1;

    @Override
    protected Builder self() {
      return this;
    }

    public Builder setImageSet(ImageSet images) {
      this.images = images;
      return this;
    }

    /** Per-channel mean and std after scaling to [0, 1]; without it pixels stay in [0, 1]. */
    public Builder optNormalization(Normalization normalization) {
      this.normalization = normalization;
      return this;
    }

    /** Pads every image, centred, to {@code side} x {@code side}. */
    public Builder optPadTo(int side) {
      this.padTo = side;
      return this;
    }

    /** Repeats every pixel into a {@code factor x factor} block (nearest-neighbour upsampling). */
    public Builder optUpsample(int factor) {
      this.upsample = factor;
      return this;
    }

    /**
     * Batches of {@code batchSize} in a {@link SeededSampler} order: reproducible across runs,
     * unlike {@code setSampling(batchSize, true)}. The last, smaller batch is kept.
     */
    public Builder setSeededSampling(int batchSize, long seed) {
      requirePositive(batchSize);
      return setSampling(new BatchSampler(new SeededSampler(seed), batchSize, false));
    }

    public ImageSetDataset build() {
      if (images == null) {
        throw new IllegalStateException("ImageSetDataset needs an image set: call setImageSet");
      }
      if (sampler == null) {
        throw new IllegalStateException("ImageSetDataset needs a sampling: call setSeededSampling or setSampling");
      }
      if (normalization == null) {
        normalization = Normalization.identity(images.channels());
      }
      if (normalization.channels() != images.channels()) {
        throw new IllegalArgumentException("normalization has " + normalization.channels()
            + " channels but the images have " + images.channels());
      }
      if (upsample < 1 || (upsample > 1 && padTo != 0)) {
        throw new IllegalArgumentException("upsampling by " + upsample + (padTo != 0 ? " with padding to " + padTo : "")
            + ": expected a factor of 1 or more, without padding");
      }
      if (padTo != 0 && (padTo < images.height() || padTo < images.width())) {
        throw new IllegalArgumentException("cannot pad " + images.height() + "x" + images.width()
            + " images to a smaller " + padTo + "x" + padTo);
      }
      return new ImageSetDataset(this);
    }
  }
}
