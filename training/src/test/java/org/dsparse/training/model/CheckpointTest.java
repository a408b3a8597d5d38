package org.dsparse.training.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  private static final Shape SAMPLE = new Shape(1, 12, 12);
  private static final int[] ALL = {0, 1, 2, 3};

  private static NDArray[] batch(NDManager manager, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] pixels = new float[16 * 144];
    float[] labels = new float[16];
    for (int s = 0; s < 16; s++) {
      labels[s] = random.nextInt(4);
      for (int i = 0; i < 144; i++) {
        pixels[s * 144 + i] = (float) random.nextGaussian();
      }
    }
    return new NDArray[] {manager.create(pixels, new Shape(16, 1, 12, 12)), manager.create(labels)};
  }

  private static void step(SparseTrainer trainer, NDManager data, long seed) {
    NDArray[] b = batch(data, seed);
    trainer.forwardBackward(b[0], b[1]);
    trainer.step();
  }

  @Test
  void aCheckpointWithItsTrainingStateContinuesTrainingBitForBit(@TempDir Path dir) throws IOException {
    Path path = dir.resolve("job.ckpt");
    DjlThread.run(() -> {
      OptimizerSpec adam = new OptimizerSpec(OptimizerKind.ADAM, 0.01f, 0, 0);
      try (LayeredModel original = Models.create("small-cnn", SAMPLE, 4, 5);
          LayeredModel resumed = Models.create("small-cnn", SAMPLE, 4, 77);
          NDManager data = original.manager().newSubManager()) {
        SparseTrainer before = new SparseTrainer(original, UpdateSet.of(4, ALL), adam);
        step(before, data, 1);
        step(before, data, 2);
        List<Checkpoint.SliceState> state = new java.util.ArrayList<>();
        for (int layer : ALL) {
          ChannelSlice whole = original.layer(layer).whole(layer);
          state.add(new Checkpoint.SliceState(whole, before.exportOptimizerState(List.of(whole))));
        }
        Checkpoint.save(original, path, new Checkpoint.TrainingState("job", 1, 2, 7, "adam",
            before.optimizerUpdates(), state, "a plan"));

        Optional<Checkpoint.TrainingState> loaded = Checkpoint.load(resumed, path);
        assertTrue(loaded.isPresent());
        Checkpoint.TrainingState s = loaded.get();
        assertEquals(List.of("job", 1, 2, 7L, "adam", 2, "a plan"),
            List.of(s.jobId(), s.epoch(), s.stepInEpoch(), s.step(), s.optimizer(), s.optimizerUpdates(), s.plan()));
        SparseTrainer after = new SparseTrainer(resumed, UpdateSet.of(4, ALL), adam);
        assertEquals(state.size(), s.optimizerState().size());
        for (int i = 0; i < state.size(); i++) {
          Checkpoint.SliceState read = s.optimizerState().get(i);
          assertEquals(state.get(i).slice(), read.slice());
          assertArrayEquals(state.get(i).state(), read.state(), read.slice().toString());
          after.importOptimizerState(List.of(read.slice()), read.state(), s.optimizerUpdates());
        }
        step(before, data, 3);
        step(after, data, 3);
        assertArrayEquals(original.exportWeights(ALL), resumed.exportWeights(ALL));
      }
    });
  }

  @Test
  void weightsTrainedAtOneImageSizeLoadAtAnotherOnlyWhenAskedFor(@TempDir Path dir) throws IOException {
    Path path = dir.resolve("small.ckpt");
    DjlThread.run(() -> {
      try (LayeredModel small = Models.create("small-cnn", new Shape(1, 28, 28), 4, 1);
          LayeredModel large = Models.create("small-cnn", new Shape(1, 56, 56), 4, 2);
          LayeredModel colour = Models.create("small-cnn", new Shape(3, 56, 56), 4, 2)) {
        Checkpoint.save(small, path);
        IOException refused = assertThrows(IOException.class, () -> Checkpoint.load(large, path));
        assertTrue(refused.getMessage().contains("1x28x28"), refused.getMessage());
        Checkpoint.loadAtAnyResolution(large, path);
        assertArrayEquals(small.exportWeights(new int[] {0, 1, 2, 3}), large.exportWeights(new int[] {0, 1, 2, 3}));
        // Other channels are another network's weights.
        assertThrows(IOException.class, () -> Checkpoint.loadAtAnyResolution(colour, path));
      }
    });
  }

  @Test
  void aDamagedCheckpointIsRefusedSayingHowAndTheModelKeepsItsWeights(@TempDir Path dir) throws IOException {
    Path good = dir.resolve("good.ckpt");
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", SAMPLE, 4, 5);
          LayeredModel other = Models.create("small-cnn", SAMPLE, 4, 6)) {
        Checkpoint.save(model, good, new Checkpoint.TrainingState("job", 0, 3, 3, "sgd", 3, List.of(), "plan"));
        byte[] bytes = Files.readAllBytes(good);
        float[] before = other.exportWeights(ALL);

        byte[] flipped = bytes.clone();
        flipped[bytes.length / 2] ^= 0x10;
        Path corrupt = Files.write(dir.resolve("flipped.ckpt"), flipped);
        IOException error = assertThrows(IOException.class, () -> Checkpoint.load(other, corrupt));
        assertTrue(error.getMessage().contains(corrupt.toString()) && error.getMessage().contains("corrupt"),
            error.getMessage());

        Path truncated = Files.write(dir.resolve("truncated.ckpt"), Arrays.copyOf(bytes, bytes.length - 100));
        error = assertThrows(IOException.class, () -> Checkpoint.load(other, truncated));
        assertTrue(error.getMessage().contains(truncated.toString()), error.getMessage());

        assertArrayEquals(before, other.exportWeights(ALL), "a refused file changes no weight");
        assertEquals(Optional.of(3L), Checkpoint.load(other, good).map(Checkpoint.TrainingState::step));
        assertEquals(Optional.empty(), checkpointWithoutState(dir, model, other));
      }
    });
  }

  private static Optional<Checkpoint.TrainingState> checkpointWithoutState(Path dir, LayeredModel model,
      LayeredModel other) throws IOException {
    Path weightsOnly = dir.resolve("weights.ckpt");
    Checkpoint.save(model, weightsOnly);
    Optional<Checkpoint.TrainingState> state = Checkpoint.load(other, weightsOnly);
    assertArrayEquals(model.exportWeights(ALL), other.exportWeights(ALL));
    return state;
  }
}
