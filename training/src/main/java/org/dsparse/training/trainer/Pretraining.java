package org.dsparse.training.trainer;

import java.io.IOException;
import java.nio.file.Path;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Partitioner;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;

/**
 * Makes the starting point of incremental learning: one process trains every layer on the held-out
 * share of the training set (the share a job with the same seed and fraction leaves out) and saves
 * a checkpoint.
 */
public final class Pretraining {
  private Pretraining() {}

  /** What came of it: the checkpoint, the mean loss of the last epoch and the test accuracy. */
  public record Result(Path checkpoint, int samples, double lastEpochLoss, double testAccuracy) {}

  public static Result run(String modelName, DataSource source, double heldOutFraction, long seed, int batch,
      OptimizerSpec optimizer, int epochs, Path checkpoint) throws IOException {
    return DjlThread.call(() -> {
      ImageSet train = source.load(Split.TRAIN);
      ImageSet heldOut = train.subset(Partitioner.holdOut(train.size(), heldOutFraction, seed)[0]);
      if (heldOut.size() < batch) {
        throw new IllegalArgumentException("pre-training needs at least one batch of " + batch
            + " held-out images, the fraction " + heldOutFraction + " leaves " + heldOut.size());
      }
      ImageSetDataset data = ImageSetDataset.builder().setImageSet(heldOut)
          .optNormalization(source.normalization()).setSeededSampling(batch, seed).build();
      ImageSet testSet = source.load(Split.TEST);
      ImageSetDataset test = ImageSetDataset.builder().setImageSet(testSet)
          .optNormalization(source.normalization()).setSeededSampling(batch, seed).build();
      try (LayeredModel model = Models.create(modelName, data.imageShape(), train.classes(), seed)) {
        SparseTrainer trainer = new SparseTrainer(model, UpdateSet.all(model.layerCount()), optimizer);
        double lossSum = 0;
        int steps = 0;
        for (int epoch = 0; epoch < epochs; epoch++) {
          lossSum = 0;
          steps = 0;
          for (ImageBatch b : data.batches(model.manager(), batch, seed, epoch)) {
            try (b) {
              if (b.size() < batch) {
                continue;
              }
              lossSum += trainer.forwardBackward(b.images(), b.labels());
              trainer.step();
              steps++;
            }
          }
        }
        long correct = 0;
        for (ImageBatch b : test.batches(model.manager(), batch, seed, 0)) {
          try (b) {
            correct += trainer.correct(b.images(), b.labels());
          }
        }
        Checkpoint.save(model, checkpoint);
        return new Result(checkpoint, heldOut.size(), lossSum / Math.max(1, steps),
            (double) correct / testSet.size());
      }
    });
  }
}
