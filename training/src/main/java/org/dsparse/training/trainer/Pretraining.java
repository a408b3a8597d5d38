package org.dsparse.training.trainer;

import java.io.IOException;
import java.nio.file.Files;
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
 * a checkpoint, with its recipe beside it ({@code <checkpoint>.recipe}). A checkpoint whose recipe
 * matches is reused: pre-training is deterministic for a recipe, and takes minutes.
 */
public final class Pretraining {
  private Pretraining() {}

  /**
   * What came of it: the checkpoint, the mean loss of the last epoch and the test accuracy;
   * {@code reused} when an earlier run with the same recipe made it.
   */
  public record Result(Path checkpoint, int samples, double lastEpochLoss, double testAccuracy, boolean reused) {}

  public static Result run(String modelName, DataSource source, double heldOutFraction, long seed, int batch,
      OptimizerSpec optimizer, int epochs, Path checkpoint) throws IOException {
    String recipe = String.join("\n", "model=" + modelName, "data=" + source, "heldOutFraction=" + heldOutFraction,
        "seed=" + seed, "batch=" + batch, "optimizer=" + optimizer, "epochs=" + epochs);
    Path recipeFile = checkpoint.resolveSibling(checkpoint.getFileName() + ".recipe");
    Result earlier = reusable(checkpoint, recipeFile, recipe);
    if (earlier != null && loads(modelName, source, seed, batch, checkpoint)) {
      return earlier;
    }
    Result made = train(modelName, source, heldOutFraction, seed, batch, optimizer, epochs, checkpoint);
    Files.writeString(recipeFile, recipe + "\n--\n" + made.samples() + " " + made.lastEpochLoss() + " "
        + made.testAccuracy() + "\n");
    return made;
  }

  /** The earlier result when {@code recipeFile} holds {@code recipe} and the checkpoint is there, else null. */
  private static Result reusable(Path checkpoint, Path recipeFile, String recipe) throws IOException {
    if (!Files.isRegularFile(checkpoint) || !Files.isRegularFile(recipeFile)) {
      return null;
    }
    String[] parts = Files.readString(recipeFile).split("\n--\n", 2);
    if (parts.length != 2 || !parts[0].equals(recipe)) {
      return null;
    }
    String[] outcome = parts[1].trim().split(" ");
    try {
      return new Result(checkpoint, Integer.parseInt(outcome[0]), Double.parseDouble(outcome[1]),
          Double.parseDouble(outcome[2]), true);
    } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
      return null; // an unreadable record: train again
    }
  }

  /**
   * Whether the earlier checkpoint still loads into the model: one damaged since it was made is made
   * again, rather than handed to every run that starts from it.
   */
  private static boolean loads(String modelName, DataSource source, long seed, int batch, Path checkpoint) {
    return DjlThread.call(() -> {
      ImageSet test = source.load(Split.TEST);
      ImageSetDataset data = ImageSetDataset.builder().setImageSet(test).optNormalization(source.normalization())
          .setSeededSampling(batch, seed).build();
      try (LayeredModel model = Models.create(modelName, data.imageShape(), test.classes(), seed)) {
        Checkpoint.load(model, checkpoint);
        return true;
      } catch (IOException e) {
        return false;
      }
    });
  }

  private static Result train(String modelName, DataSource source, double heldOutFraction, long seed, int batch,
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
            (double) correct / testSet.size(), false);
      }
    });
  }
}
