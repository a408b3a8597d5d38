package org.dsparse.training.data;

import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;
import java.util.Arrays;
import java.util.Iterator;
import org.dsparse.core.data.EpochOrder;

/**
 * DJL sub-sampler visiting samples in {@link EpochOrder}: each call to {@link #sample} starts the
 * next epoch, so the k-th pass over the data has the same order in every run with this seed
 * (DJL's own {@code RandomSampler} draws from a process-wide random source instead).
 */
public final class SeededSampler implements Sampler.SubSampler {
  private final long seed;
  private int nextEpoch;

  public SeededSampler(long seed) {
    this.seed = seed;
  }

  @Override
  public Iterator<Long> sample(RandomAccessDataset dataset) {
    long size = dataset.size();
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("dataset of " + size + " samples is too large to shuffle in memory");
    }
    int[] order = EpochOrder.permutation((int) size, seed, nextEpoch++);
    return Arrays.stream(order).mapToObj(i -> (long) i).iterator();
  }
}
