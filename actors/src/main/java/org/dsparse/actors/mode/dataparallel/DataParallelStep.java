package org.dsparse.actors.mode.dataparallel;

import ai.djl.ndarray.NDList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.EpochBatches;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.actors.step.StageRunner;
import org.dsparse.actors.step.StepResult;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's data-parallel step (the full update's and DSparse's), top to bottom: forward and
 * backward through its updated layers ({@link Backward}); the AllReduce of each group's gradients
 * among its updaters, all groups at once ({@link GradientReducer}); the optimizer step; with periodic
 * model averaging, on averaging steps, the AllReduce of the groups' weights; on refresh steps, the
 * Broadcast of each group's weights (or, compressed, of their change) from its leader to the devices
 * that do not update it ({@link Refreshes}). Model work
 * runs on {@link Compute} through a {@link StageRunner}, collectives on {@link Collectives}; the step is
 * one chain of futures, and each step's progress lives in its own {@link Run}.
 *
 * <p>With overlap, the backward is cut at the step's layer indices (the same on every device): each
 * segment's part of every group goes to its AllReduce as soon as the segment's gradients are final,
 * while the backward goes on below it, and the optimizer step waits for all parts. Each step reports
 * its segments' backward and transfer times, from which the coordinator chooses later cuts.
 *
 * <p>The next step's forward waits only for the layers it uses: while a step's AllReduces move
 * data, the model thread takes the next batch through the frozen layers below the first updated
 * one, which no AllReduce changes (unless the step refreshes weights, which may change them).
 *
 * <p>A refresh payload is the group's weights and buffers, as {@link LayeredModel#exportWeights(List)}
 * lays them out. A group may hold only some output channels of a layer; the trainer then changes only
 * those rows here, and the rest arrive with the other groups' refreshes.
 *
 * <p>Steps must not overlap: the next one starts after the previous one completed. A cancelled
 * pipeline (its job abandoned a step to re-plan) runs no further model work: every stage that has
 * not started fails, so nothing changes the model after the abandoning device answered.
 */
public final class DataParallelStep implements DeviceStep {
  private final JobSpec spec;
  private final LayeredModel model;
  private final SparseTrainer trainer;
  private final Backward backward;
  private final DeviceGroups groups;
  private final Collectives collectives;
  private final StageRunner stages;
  private final GradientReducer reducer;
  private final Refreshes refreshes;
  /** The epochs' batches; touched only by model work. */
  private final EpochBatches batches;
  /** The next batch of the current epoch and its frozen prefix's output, taken while collectives ran. */
  private Ahead ahead;
  /** The previous step's compressed refresh, under way, when refreshes overlap the next step. */
  private CompletionStage<Refreshes.Launched> refreshUnderWay;

  private record Ahead(int epoch, ImageBatch batch, NDList prefix) {}

  public DataParallelStep(JobSpec spec, LayeredModel model, SparseTrainer trainer, Backward backward,
      ImageSetDataset train, DeviceGroups groups, Collectives collectives, Compute compute, int startEpoch,
      int startBatch) {
    this.batches = new EpochBatches(train, model.manager(), spec.batch(), spec.seed(), startEpoch, startBatch);
    this.spec = spec;
    this.model = model;
    this.trainer = trainer;
    this.backward = backward;
    this.groups = groups;
    this.collectives = collectives;
    this.stages = new StageRunner(compute);
    this.reducer = new GradientReducer(spec, model, trainer, groups, collectives);
    this.refreshes = new Refreshes(spec, model, groups, collectives);
  }

  /** Groups the job's compression leaves dense on this device, and why. */
  @Override
  public Map<String, String> denseGroups() {
    return reducer.denseGroups();
  }

  /** Fails every stage not yet started: the job abandoned its step. */
  @Override
  public void cancel() {
    stages.cancel();
  }

  /** The cuts as the trainer takes them, after checking that they are ascending layers of the model. */
  private int[] checkedCuts(List<Integer> overlapCuts) {
    if (overlapCuts.isEmpty()) {
      return new int[0];
    }
    if (!spec.overlaps()) {
      throw new IllegalArgumentException("cuts " + overlapCuts + " for job " + spec.jobId() + ", which does not overlap");
    }
    int[] cuts = overlapCuts.stream().mapToInt(Integer::intValue).toArray();
    boolean ascending = cuts.length < JobSpec.MAX_OVERLAP_SEGMENTS;
    for (int i = 0; i < cuts.length && ascending; i++) {
      ascending = cuts[i] > (i == 0 ? 0 : cuts[i - 1]) && cuts[i] < model.layerCount();
    }
    if (!ascending) {
      throw new IllegalArgumentException("cuts " + overlapCuts + " are not fewer than " + JobSpec.MAX_OVERLAP_SEGMENTS
          + " ascending layers between 1 and " + (model.layerCount() - 1));
    }
    return cuts;
  }

  /**
   * Runs step {@code step} of epoch {@code epoch}; {@code average}: with periodic model averaging,
   * average the groups' weights on this step; {@code refresh}: send the groups' weights to the
   * devices that do not update them, exactly or compressed ({@link Refreshes}); {@code cuts}: where to cut the backward (empty: no overlap).
   * {@code evaluated} changes nothing here: the model is evaluated as the step leaves it.
   */
  @Override
  public CompletionStage<StepResult> run(int epoch, long step, boolean average, Refresh refresh, boolean evaluated,
      List<Integer> cuts) {
    Run run;
    try {
      run = new Run(step, checkedCuts(cuts));
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new StageFailure("step " + step + ": " + e.getMessage(), e));
    }
    boolean averagesWeights = spec.averagesWeights();
    // The previous step's refresh, when it overlaps this one: applied once this step's backward is done.
    CompletionStage<Refreshes.Launched> earlier = refreshUnderWay;
    refreshUnderWay = null;
    boolean deferRefresh = refresh == Refresh.COMPRESSED && refreshes.overlapsNextStep();
    boolean forwardAhead = spec.overlap().nextForwardAhead() && !refresh.any() && earlier == null
        && trainer.update().firstUpdated() > 0 && backward.takesAhead();
    return run.stages.compute("forward/backward", () -> {
      // Before the plan's first step changes a weight: the receivers' copies start as every device's.
      refreshes.start();
      return forwardBackward(epoch, run, !averagesWeights);
    })
        .thenCompose(loss -> loss)
        .thenCompose(backwardDone -> earlier == null ? done()
            : earlier.thenCompose(launched -> refreshes.finish(launched, run.stages, run.refreshed)))
        .thenCompose(applied -> run.round.collected().thenCombine(forwardAhead
            ? run.stages.compute("the next batch's frozen layers", this::takeNextBatchAhead) : done(),
            (averaged, x) -> averaged))
        .thenCompose(averaged -> run.stages.compute("optimizer step", () -> {
          reducer.apply(averaged);
          trainer.step();
          return null;
        }))
        .thenCompose(stepped -> averagesWeights && average ? averageWeights(run) : done())
        .thenCompose(averaged -> !refresh.any() ? done()
            : deferRefresh ? launchForNextStep(step, refresh, run) : refreshes.run(step, refresh, run.stages, run.refreshed))
        .thenApply(refreshed -> run.result());
  }

  /**
   * Forward and backward on the next batch of {@code epochIndex} (or the one taken ahead); when
   * {@code reduceGradients}, the reducer starts each group's AllReduce (each part's, with overlap, as
   * soon as the backward has finished it). Completes when the backward has, and the batch is freed.
   */
  private CompletionStage<Void> forwardBackward(int epochIndex, Run run, boolean reduceGradients) {
    Ahead taken = ahead;
    ahead = null;
    if (taken != null && taken.epoch() != epochIndex) {
      // A new epoch: the batch taken ahead belongs to the old one's order.
      close(taken);
      taken = null;
    }
    ImageBatch batch = taken != null ? taken.batch() : batches.next(epochIndex);
    NDList prefix = taken != null ? taken.prefix() : null;
    CompletionStage<Float> loss;
    try {
      loss = backward.run(batch, prefix, new Backward.Step(run.step, run.round.cuts,
          run.round.segmentsDone(reduceGradients), run.stages.modelThread("tiles"), collectives, groups.device()));
    } catch (RuntimeException e) {
      close(batch, prefix);
      throw e;
    }
    CompletableFuture<Float> started = loss.toCompletableFuture();
    if (started.isDone() && !started.isCompletedExceptionally()) {
      // The device's own backward ends within this stage: its batch is freed here, as the stage ends.
      close(batch, prefix);
      run.loss = started.join();
      return done();
    }
    return started.handleAsync((value, error) -> {
      close(batch, prefix);
      if (error != null) {
        throw StageFailure.of("forward/backward", error);
      }
      run.loss = value;
      return null;
    }, run.stages.modelThread("tiles"));
  }

  /** Periodic model averaging: the groups' weights averaged among their updaters and taken in. */
  private CompletionStage<Void> averageWeights(Run run) {
    return run.stages.compute("exporting weights", () -> {
      groups.allReduce().forEach(group -> run.round.allReduce(GradientReducer.Part.whole(group),
          new GradientReducer.Payload(model.exportWeights(slices(group)), new int[0]), -1));
      return null;
    }).thenCompose(launched -> run.round.collected())
        .thenCompose(averaged -> run.stages.compute("applying averaged weights", () -> {
          averaged.forEach(reduced -> model.importWeights(reduced.part().slices(), reduced.payload()));
          return null;
        }));
  }

  /** This step's refresh started, to be finished by the next step. */
  private CompletionStage<Void> launchForNextStep(long step, Refresh refresh, Run run) {
    CompletableFuture<Refreshes.Launched> launched = refreshes.launch(step, refresh, run.stages, run.refreshed)
        .toCompletableFuture();
    refreshUnderWay = launched;
    return launched.thenApply(started -> null);
  }

  private static CompletionStage<Void> done() {
    return CompletableFuture.completedFuture(null);
  }

  /** Takes the next batch of the current epoch through the frozen layers, for the next step. */
  private Void takeNextBatchAhead() {
    ImageBatch batch = batches.next(batches.epoch());
    try {
      ahead = new Ahead(batches.epoch(), batch, trainer.frozenPrefix(batch.images()));
    } catch (RuntimeException e) {
      batch.close();
      throw e;
    }
    return null;
  }

  private static void close(Ahead taken) {
    close(taken.batch(), taken.prefix());
  }

  private static void close(ImageBatch batch, NDList prefix) {
    if (prefix != null) {
      prefix.close();
    }
    batch.close();
  }

  private static List<ChannelSlice> slices(GroupPlan group) {
    return Plans.channelSlices(group.slices());
  }

  /** One step's stages, communication and what they cost; each stage runs after the previous one completed. */
  private final class Run {
    private final long step;
    private final StageRunner.Step stages = DataParallelStep.this.stages.step();
    private final GradientReducer.Round round;
    private float loss = Float.NaN;
    private final Refreshes.Round refreshed = new Refreshes.Round();

    Run(long step, int[] cuts) {
      this.step = step;
      this.round = reducer.round(step, cuts);
    }

    StepResult result() {
      long[] segmentBytes = round.segmentBytes;
      double[] backwardMillis = new double[segmentBytes.length];
      double[] transferMillis = new double[segmentBytes.length];
      for (int s = 0; s < segmentBytes.length; s++) {
        backwardMillis[s] = round.segmentBackwardNanos[s] / 1e6;
        transferMillis[s] = round.segmentTransferNanos[s] / 1e6;
      }
      // Each group's own collective time, by group and kind.
      Map<List<String>, Long> groupNanos = new TreeMap<>(
          Comparator.comparing((List<String> k) -> k.get(0)).thenComparing(k -> k.get(1)));
      round.groupNanos.forEach((group, nanos) -> groupNanos.put(List.of(group, WireBytes.ALL_REDUCE), nanos));
      groupNanos.putAll(refreshed.groupNanos);
      return new StepResult(loss, stages.computeNanos(), round.allReduceNanos, refreshed.nanos,
          round.waitedNanos + refreshed.waitedNanos, round.allReduceBytes, refreshed.bytes,
          new StepMetrics.Segments(Arrays.stream(round.cuts).boxed().toList(), backwardMillis, segmentBytes.clone(),
              transferMillis),
          groupNanos.entrySet().stream().map(e -> new StepMetrics.GroupTime(e.getKey().get(0), e.getKey().get(1),
              e.getValue() / 1e6)).toList());
    }
  }
}
