package org.dsparse.training.profile;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/** The child JVM of a {@link MemoryProfiler}: trains one configuration and prints what it measured. */
public final class ProfileChild {
  static final String RESULT_MARKER = "DSPARSE-PROFILE-RESULT ";
  private static final long SEED = 42;

  private ProfileChild() {}

  public static void main(String[] args) {
    try {
      ProfileRequest request = ProfileRequest.fromArgs(args);
      ProfileResult result = DjlThread.call(() -> measure(request));
      System.out.println(RESULT_MARKER + new Gson().toJson(result));
      System.out.flush();
      System.exit(0);
    } catch (RuntimeException e) {
      System.err.println("profile failed: " + e.getMessage());
      System.exit(2);
    }
  }

  private static ProfileResult measure(ProfileRequest request) {
    // Warm-up: JIT-compiles the training path and runs PyTorch's lazy initialisation (thread pools,
    // kernels), so that neither lands in the measurement. Its memory is freed before the baseline.
    train(request.withBatch(2).withUpdate("all"), 2);
    System.gc();
    long baseline = ProcessMemory.residentBytes();
    ProcessMemory.resetPeak();
    long start = 0;
    List<String> updated = new ArrayList<>();
    long updatedParams = 0;
    try (LayeredModel model = Models.create(request.model(), request.sampleShape(),
        request.classes(), SEED)) {
      UpdateSet update = UpdateSet.parse(request.update(), layerNames(model));
      SparseTrainer trainer = trainer(model, update, request);
      for (int i = 0; i < model.layerCount(); i++) {
        if (update.isUpdated(i)) {
          updated.add(model.layer(i).name());
          updatedParams += model.layer(i).trainableParams();
        }
      }
      for (int step = 0; step < request.steps(); step++) {
        if (step == 1) {
          start = System.nanoTime();
        }
        trainStep(trainer, model, request);
      }
    }
    long peak = ProcessMemory.peakResidentBytes();
    double millisPerStep = request.steps() > 1
        ? (System.nanoTime() - start) / 1e6 / (request.steps() - 1) : Double.NaN;
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    return new ProfileResult(baseline, peak, peak - baseline, heap, updated, updatedParams,
        millisPerStep);
  }

  private static void train(ProfileRequest request, int steps) {
    try (LayeredModel model = Models.create(request.model(), request.sampleShape(),
        request.classes(), SEED)) {
      SparseTrainer trainer = trainer(model, UpdateSet.parse(request.update(), layerNames(model)), request);
      for (int step = 0; step < steps; step++) {
        trainStep(trainer, model, request);
      }
    }
  }

  private static SparseTrainer trainer(LayeredModel model, UpdateSet update, ProfileRequest request) {
    return new SparseTrainer(model, model.wholeLayers(update.layers().stream().toArray()), new OptimizerSpec(
        request.optimizer(), 0.01f, request.optimizer().stateTensorsPerParam() > 0 ? 0.9f : 0f, 0f),
        request.frozenPrefixMicroBatch());
  }

  /** One step on a random batch: memory depends on shapes, not on pixel values. */
  private static void trainStep(SparseTrainer trainer, LayeredModel model, ProfileRequest request) {
    try (NDManager batch = model.manager().newSubManager()) {
      NDArray x = batch.randomNormal(new Shape(request.batch()).addAll(request.sampleShape()));
      NDArray y = batch.randomInteger(0, request.classes(), new Shape(request.batch()),
          ai.djl.ndarray.types.DataType.INT64);
      trainer.forwardBackward(x, y);
      trainer.step();
    }
  }

  static List<String> layerNames(LayeredModel model) {
    return model.layers().stream().map(l -> l.name()).toList();
  }
}
