package org.dsparse.actors.step;

import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.submodel.SubModels;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's step in a job of sub-models (Chen and Qin 2020): forward, backward and the optimizer
 * on its sub-model and its own batch, nothing sent. On averaging steps the sub-models are assembled
 * into the global model on every device at once: each device's contribution (its trained weights
 * times its samples, and its samples, in the global model's layout) is summed by one AllReduce among
 * all devices, each weight becomes the mean of the devices that trained it, and each device takes
 * its sub-model's part of the assembled model and goes on from it (its optimizer state stays).
 */
public final class SubModelPipeline implements DeviceStep {
  private final JobSpec spec;
  private final LayeredModel global;
  private final LayeredModel sub;
  private final SubModelSpec subSpec;
  private final SparseTrainer trainer;
  private final ImageSetDataset train;
  private final DeviceGroups groups;
  private final Collectives collectives;
  private final Compute compute;
  private final EpochBatches batches;
  private volatile boolean cancelled;

  /**
   * @param global the global model, which assemblies update; the device evaluates and saves it
   * @param sub the device's sub-model, trained by {@code trainer} on {@code train} (its classes'
   *     images, labelled by their place among its classes)
   */
  public SubModelPipeline(JobSpec spec, LayeredModel global, LayeredModel sub, SubModelSpec subSpec,
      SparseTrainer trainer, ImageSetDataset train, DeviceGroups groups, Collectives collectives, Compute compute,
      int startEpoch, int startBatch) {
    this.spec = spec;
    this.global = global;
    this.sub = sub;
    this.subSpec = subSpec;
    this.trainer = trainer;
    this.train = train;
    this.groups = groups;
    this.collectives = collectives;
    this.compute = compute;
    this.batches = new EpochBatches(train, global.manager(), spec.batch(), spec.seed(), startEpoch, startBatch);
  }

  @Override
  public void cancel() {
    cancelled = true;
  }

  @Override
  public CompletionStage<StepPipeline.Result> run(int epochIndex, long step, boolean average, boolean refresh,
      List<Integer> cuts) {
    long[] computeNanos = {0};
    float[] loss = {Float.NaN};
    CompletionStage<Float> trained = stage("forward/backward", computeNanos, () -> {
      try (ImageBatch batch = batches.next(epochIndex)) {
        float value = trainer.forwardBackward(batch.images(), batch.labels());
        if (!Float.isFinite(value)) {
          throw new IllegalStateException("the sub-model of device " + groups.device() + " diverged: loss " + value
              + " at step " + step);
        }
        trainer.step();
        return value;
      }
    });
    return trained.thenCompose(value -> {
      loss[0] = value;
      return average ? assemble(step, computeNanos) : CompletableFuture.completedFuture(new long[3]);
    }).thenApply(exchange -> new StepPipeline.Result(loss[0], computeNanos[0], exchange[0], 0, exchange[1],
        exchange[2], 0, java.util.Map.of(), new StepMetrics.Segments(List.of(), new double[] {0}, new long[] {0},
            new double[] {0}), exchange[2] == 0 ? List.of() : List.of(new StepMetrics.GroupTime(group().groupId(),
                WireBytes.ALL_REDUCE, exchange[0] / 1e6))));
  }

  /** The plan's one group: every device, the whole global model. */
  private GroupPlan group() {
    return groups.allReduce().isEmpty() ? null : groups.allReduce().get(0);
  }

  /**
   * The assembly: this device's contribution summed with every other's, taken in, and the sub-model
   * refreshed from it; answers {AllReduce nanos, wall nanos waiting for it, bytes contributed}.
   */
  private CompletionStage<long[]> assemble(long step, long[] computeNanos) {
    double samples = train.imageSet().size();
    return stage("contribution", computeNanos, () -> {
      float[] contribution = SubModels.contribution(global, subSpec, sub, samples);
      // A diverged sub-model must not reach the global model of every device.
      for (float value : contribution) {
        if (!Float.isFinite(value)) {
          throw new IllegalStateException("the sub-model of device " + groups.device() + " holds a weight that is "
              + value + " after step " + step + ": it is not assembled");
        }
      }
      return contribution;
    })
        .thenCompose(contribution -> {
          GroupPlan group = group();
          long started = System.nanoTime();
          CompletionStage<Collectives.Transfer> summed = group == null
              ? CompletableFuture.completedFuture(new Collectives.Transfer(contribution, 0))
              : collectives.sum(DeviceGroups.allReduceId(spec.jobId(), group), step, contribution);
          return summed.thenCompose(transfer -> {
            long waited = System.nanoTime() - started;
            return stage("assembly", computeNanos, () -> {
              SubModels.absorb(global, transfer.result());
              SubModels.copyInto(global, subSpec, sub);
              return new long[] {transfer.transferNanos(), waited, group == null ? 0 : 4L * contribution.length};
            });
          });
        });
  }

  private <T> CompletionStage<T> stage(String name, long[] nanos, Callable<T> work) {
    return compute.submit(name, () -> {
      if (cancelled) {
        throw new CancellationException("the step was abandoned");
      }
      long start = System.nanoTime();
      try {
        return work.call();
      } finally {
        nanos[0] += System.nanoTime() - start;
      }
    }).handle((value, error) -> {
      if (error != null) {
        throw new StepPipeline.StageFailure(name + " failed: " + StepPipeline.message(error), error);
      }
      return value;
    });
  }
}
