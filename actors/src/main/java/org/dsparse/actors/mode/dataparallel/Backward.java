package org.dsparse.actors.mode.dataparallel;

import ai.djl.ndarray.NDList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * The forward and backward of a data-parallel step on one device: on its own batch
 * ({@link #LOCAL}), or as a member of a tile group, on its tiles of a batch the group shares
 * ({@code org.dsparse.actors.mode.tiles}). Everything after it, the gradients' AllReduces included,
 * is the same.
 */
public interface Backward {
  /**
   * Step {@code step}'s forward and backward, started on the model thread, which calls
   * {@code segmentsDone} as each backward segment of {@code cuts} is final; answers the loss.
   *
   * @param prefix the batch's output of the frozen layers below the first updated one, taken ahead,
   *     or null
   * @param modelThread where continuations run as model work of the step (after collectives answer)
   */
  CompletionStage<Float> run(ImageBatch batch, NDList prefix, Step step);

  /**
   * What a backward needs of its step.
   *
   * @param device this device's name
   */
  record Step(long step, int[] cuts, SparseTrainer.SegmentDone segmentsDone, Executor modelThread,
      Collectives collectives, String device) {}

  /** Whether the frozen layers' output of the next batch may be taken ahead, while collectives run. */
  default boolean takesAhead() {
    return true;
  }

  /** Collectives of its own, beside the plan's groups. */
  default Map<String, DeviceGroups.Collective> collectives(String device, String jobId, List<GroupPlan> groups) {
    return Map.of();
  }

  /** Builds a device's backward around its trainer. */
  @FunctionalInterface
  interface Factory {
    Backward create(SparseTrainer trainer, org.dsparse.training.model.LayeredModel model,
        org.dsparse.training.data.ImageSetDataset train);
  }

  /** The device's own batch through its trainer, at once. */
  Factory LOCAL = (trainer, model, train) -> (batch, prefix, step) -> CompletableFuture.completedFuture(
      trainer.forwardBackward(batch.images(), prefix, batch.labels(), step.cuts(), step.segmentsDone()));
}
