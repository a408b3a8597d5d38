package org.dsparse.actors.step;

import ai.djl.ndarray.NDManager;
import java.util.Iterator;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;

/**
 * A device's batches, epoch by epoch, each epoch in its seeded order; the first epoch the device
 * runs starts at the batch it was told (a job resumed or re-planned mid-epoch). Model work only.
 */
public final class EpochBatches {
  private final ImageSetDataset train;
  private final NDManager manager;
  private final int batch;
  private final long seed;
  private final int startEpoch;
  private final int startBatch;
  private Iterator<ImageBatch> batches;
  private int epoch = -1;

  public EpochBatches(ImageSetDataset train, NDManager manager, int batch, long seed, int startEpoch, int startBatch) {
    this.train = train;
    this.manager = manager;
    this.batch = batch;
    this.seed = seed;
    this.startEpoch = startEpoch;
    this.startBatch = startBatch;
  }

  /** The epoch of the last batch taken; -1 before the first. */
  public int epoch() {
    return epoch;
  }

  /** The next batch of epoch {@code epochIndex}, in its order; the caller closes it. */
  public ImageBatch next(int epochIndex) {
    if (epochIndex != epoch || batches == null || !batches.hasNext()) {
      int first = epoch < 0 && epochIndex == startEpoch ? startBatch : 0;
      epoch = epochIndex;
      batches = train.batches(manager, batch, seed, epochIndex, first).iterator();
    }
    return batches.next();
  }
}
