package org.dsparse.actors.step;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's training step, top to bottom: forward and backward through its updated layers; the
 * AllReduce of each group's gradients among its updaters (all groups at once); the optimizer step;
 * with periodic model averaging, on averaging steps, the AllReduce of the groups' weights; on
 * refresh steps, the Broadcast of each group's weights from its leader to the devices that do not
 * update it. Model work runs on {@link Compute}, collectives on {@link Collectives}; the step is
 * one chain of futures, and each step's progress lives in its own {@link Run}.
 *
 * <p>An AllReduce payload is a group's gradients followed by its slices' BatchNorm running
 * statistics, so that averaging also keeps the updaters' statistics identical. A refresh payload is
 * the group's weights and buffers, as {@link LayeredModel#exportWeights(List)} lays them out. A group
 * may hold only some output channels of a layer; the trainer then changes only those rows here, and
 * the rest arrive with the other groups' refreshes.
 *
 * <p>Steps must not overlap: the next one starts after the previous one completed.
 */
public final class StepPipeline {
  private final JobSpec spec;
  private final LayeredModel model;
  private final SparseTrainer trainer;
  private final ImageSetDataset train;
  private final DeviceGroups groups;
  private final Collectives collectives;
  private final Compute compute;
  /** The current epoch's batches; touched only by model work. */
  private Iterator<ImageBatch> epochBatches;
  private int epoch = -1;

  public StepPipeline(JobSpec spec, LayeredModel model, SparseTrainer trainer, ImageSetDataset train,
      DeviceGroups groups, Collectives collectives, Compute compute) {
    this.spec = spec;
    this.model = model;
    this.trainer = trainer;
    this.train = train;
    this.groups = groups;
    this.collectives = collectives;
    this.compute = compute;
  }

  /**
   * What one step did.
   *
   * @param computeNanos wall time of its model work
   * @param allReduceNanos its AllReduces' own time (groups run at once: the longest of each round)
   * @param broadcastNanos the same for its refresh Broadcasts
   * @param collectiveWallNanos wall time spent in collectives, waiting for later members included
   * @param allReduceBytes payload this device contributed to AllReduces
   * @param broadcastBytes payload of the Broadcasts it sent or received
   * @param keptShardWeights on refresh steps, the weights of the groups whose shard this device keeps
   */
  public record Result(float loss, long computeNanos, long allReduceNanos, long broadcastNanos,
      long collectiveWallNanos, long allReduceBytes, long broadcastBytes, Map<String, float[]> keptShardWeights) {}

  /** A stage of the step failed; the message says which and why. */
  public static final class StageFailure extends RuntimeException {
    StageFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Runs step {@code step} of epoch {@code epoch}; {@code average}: with periodic model averaging,
   * average the groups' weights on this step; {@code refresh}: send the groups' weights to the
   * devices that do not update them.
   */
  public CompletionStage<Result> run(int epoch, long step, boolean average, boolean refresh) {
    Run run = new Run(step);
    boolean averagesWeights = spec.averagesWeights();
    List<GroupPlan> reducesGradients = averagesWeights ? List.of() : groups.allReduce();
    return run.compute("forward/backward", () -> forwardBackward(epoch, reducesGradients))
        .thenCompose(run::reduceGradients)
        .thenCompose(averaged -> run.compute("optimizer step", () -> applyAndStep(averaged)))
        .thenCompose(stepped -> averagesWeights && average ? averageWeights(run) : done())
        .thenCompose(averaged -> refresh ? refresh(run) : CompletableFuture.completedFuture(Map.of()))
        .thenApply(run::result);
  }

  /** Periodic model averaging: the groups' weights averaged among their updaters and taken in. */
  private CompletionStage<Void> averageWeights(Run run) {
    return run.compute("exporting weights", () -> export(groups.allReduce()))
        .thenCompose(run::allReduce)
        .thenCompose(averaged -> run.compute("applying averaged weights", () -> {
          averaged.forEach(this::importWeights);
          return null;
        }));
  }

  /**
   * The led groups' weights to the devices that do not update them; answers the weights of the
   * groups whose shard this device keeps.
   */
  private CompletionStage<Map<String, float[]>> refresh(Run run) {
    List<GroupPlan> toSend = groups.led().stream()
        .filter(g -> groups.refresh().contains(g) || groups.keptShards().contains(g.groupId())).toList();
    return run.compute("exporting weights", () -> export(toSend))
        .thenCompose(led -> run.broadcast(led).thenCompose(received ->
            run.compute("applying refreshed weights", () -> {
              received.forEach(this::importWeights);
              Map<String, float[]> kept = new LinkedHashMap<>();
              led.forEach((group, weights) -> keep(group, weights, kept));
              received.forEach((group, weights) -> keep(group, weights, kept));
              return kept;
            })));
  }

  private void keep(GroupPlan group, float[] weights, Map<String, float[]> kept) {
    if (groups.keptShards().contains(group.groupId())) {
      kept.put(group.groupId(), weights);
    }
  }

  private static CompletionStage<Void> done() {
    return CompletableFuture.completedFuture(null);
  }

  // ---- model work (on the Compute thread) -------------------------------------------------------

  /** Gradients of the next batch of {@code epochIndex}, and each given group's AllReduce payload. */
  private Gradients forwardBackward(int epochIndex, List<GroupPlan> allReduce) {
    if (epochIndex != epoch || epochBatches == null || !epochBatches.hasNext()) {
      epoch = epochIndex;
      epochBatches = train.batches(model.manager(), spec.batch(), spec.seed(), epochIndex).iterator();
    }
    try (ImageBatch batch = epochBatches.next()) {
      float loss = trainer.forwardBackward(batch.images(), batch.labels());
      Map<GroupPlan, float[]> payloads = new LinkedHashMap<>();
      for (GroupPlan group : allReduce) {
        List<ChannelSlice> slices = slices(group);
        float[] gradients = trainer.exportGradients(slices);
        float[] payload = Arrays.copyOf(gradients, gradients.length + model.bufferLength(slices));
        model.exportBuffers(slices, payload, gradients.length);
        payloads.put(group, payload);
      }
      return new Gradients(loss, payloads);
    }
  }

  private record Gradients(float loss, Map<GroupPlan, float[]> payloads) {}

  /** Takes the averaged gradient payloads back, then runs the optimizer step. */
  private Void applyAndStep(Map<GroupPlan, float[]> averaged) {
    averaged.forEach((group, payload) -> {
      List<ChannelSlice> slices = slices(group);
      int gradientLength = trainer.gradientLength(slices);
      trainer.importGradients(slices, Arrays.copyOf(payload, gradientLength));
      model.importBuffers(slices, payload, gradientLength);
    });
    trainer.step();
    return null;
  }

  private Map<GroupPlan, float[]> export(List<GroupPlan> toExport) {
    Map<GroupPlan, float[]> weights = new LinkedHashMap<>();
    toExport.forEach(group -> weights.put(group, model.exportWeights(slices(group))));
    return weights;
  }

  private void importWeights(GroupPlan group, float[] weights) {
    model.importWeights(slices(group), weights);
  }

  private static List<ChannelSlice> slices(GroupPlan group) {
    return JobPlanning.channelSlices(group.slices());
  }

  // ---- one step's progress ----------------------------------------------------------------------

  /** One step's stages and what they cost; each stage runs after the previous one completed. */
  private final class Run {
    private final long step;
    private float loss = Float.NaN;
    private long computeNanos;
    private long allReduceNanos;
    private long broadcastNanos;
    private long collectiveWallNanos;
    private long allReduceBytes;
    private long broadcastBytes;

    Run(long step) {
      this.step = step;
    }

    <T> CompletionStage<T> compute(String stage, Callable<T> work) {
      long start = System.nanoTime();
      return compute.submit(work).handle((value, error) -> {
        if (error != null) {
          throw new StageFailure(stage + " failed: " + message(error), error);
        }
        computeNanos += System.nanoTime() - start;
        return value;
      });
    }

    /** Notes the batch's loss, then AllReduces the gradients. */
    CompletionStage<Map<GroupPlan, float[]>> reduceGradients(Gradients gradients) {
      loss = gradients.loss();
      return allReduce(gradients.payloads());
    }

    /** One AllReduce per group, all at once. */
    CompletionStage<Map<GroupPlan, float[]>> allReduce(Map<GroupPlan, float[]> payloads) {
      Map<GroupPlan, CompletableFuture<Collectives.Transfer>> transfers = new LinkedHashMap<>();
      payloads.forEach((group, payload) -> {
        allReduceBytes += 4L * payload.length;
        transfers.put(group, collectives.allReduce(DeviceGroups.allReduceId(spec.jobId(), group), step, payload)
            .toCompletableFuture());
      });
      return collect(transfers, true);
    }

    /** One Broadcast per refreshed group, all at once: this device sends the {@code led} ones. */
    CompletionStage<Map<GroupPlan, float[]>> broadcast(Map<GroupPlan, float[]> led) {
      Map<GroupPlan, CompletableFuture<Collectives.Transfer>> transfers = new LinkedHashMap<>();
      for (GroupPlan group : groups.refresh()) {
        float[] weights = led.get(group);
        int length = weights != null ? weights.length : model.weightLength(slices(group));
        broadcastBytes += 4L * length;
        transfers.put(group, collectives.broadcast(DeviceGroups.refreshId(spec.jobId(), group), step, weights,
            length).toCompletableFuture());
      }
      return collect(transfers, false).thenApply(results -> {
        results.keySet().removeAll(led.keySet());
        return results;
      });
    }

    /** The transfers' results once all are in; a round costs its longest transfer. */
    private CompletionStage<Map<GroupPlan, float[]>> collect(
        Map<GroupPlan, CompletableFuture<Collectives.Transfer>> transfers, boolean allReduce) {
      long start = System.nanoTime();
      return CompletableFuture.allOf(transfers.values().toArray(new CompletableFuture[0])).thenApply(all -> {
        collectiveWallNanos += System.nanoTime() - start;
        Map<GroupPlan, float[]> results = new LinkedHashMap<>();
        long longest = 0;
        for (var entry : transfers.entrySet()) {
          Collectives.Transfer transfer = entry.getValue().join();
          results.put(entry.getKey(), transfer.result());
          longest = Math.max(longest, transfer.transferNanos());
        }
        if (allReduce) {
          allReduceNanos += longest;
        } else {
          broadcastNanos += longest;
        }
        return results;
      });
    }

    Result result(Map<String, float[]> keptShardWeights) {
      return new Result(loss, computeNanos, allReduceNanos, broadcastNanos, collectiveWallNanos, allReduceBytes,
          broadcastBytes, keptShardWeights);
    }
  }

  /** The innermost message of a failure, without the future machinery's wrappers. */
  public static String message(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof java.util.concurrent.CompletionException
        || cause instanceof java.util.concurrent.ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }
}
