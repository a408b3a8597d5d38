package org.dsparse.actors.mode.submodels;

import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.EpochBatches;
import org.dsparse.actors.step.StageRunner;
import org.dsparse.actors.step.StepResult;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.submodel.BatchNormStatistics;
import org.dsparse.training.submodel.SubModels;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's step in a job of sub-models (Chen and Qin 2020): forward, backward and the optimizer
 * on its sub-model and its own batch, nothing sent. On averaging steps the sub-models are assembled
 * into the global model on every device at once: each device's contribution (its trained weights
 * times its samples, in the global model's layout) is summed by one AllReduce among all devices, each
 * weight becomes the mean of the devices that trained it (the samples behind each weight are summed
 * once per plan), and each device takes its sub-model's part of the assembled model and goes on from
 * it (its optimizer state stays).
 *
 * <p>Before the job evaluates (and saves) the global model, it is assembled and calibrated: its
 * BatchNorm statistics are estimated on every device's images ({@link BatchNormStatistics}, one
 * AllReduce), then its classifier is fitted for a few steps, each on one batch of every device
 * (gradients averaged by an AllReduce each step). Why the classifier: a sub-model's classifier rows
 * compete only with its own classes' rows, so rows trained on different devices come out on
 * different scales; a few steps over all classes put them on one.
 */
final class SubModelStep implements DeviceStep {
  private final JobSpec spec;
  private final LayeredModel global;
  private final LayeredModel sub;
  private final SubModelSpec subSpec;
  private final SparseTrainer trainer;
  private final SparseTrainer calibrator;
  private final ImageSetDataset train;
  private final ImageSetDataset own;
  private final DeviceGroups groups;
  private final Collectives collectives;
  private final StageRunner stages;
  private final EpochBatches batches;
  /**
   * Every device's samples summed per weight of the global model: set by the plan's first assembly,
   * read by it and every later one, each after the previous in the steps' chain.
   */
  private float[] summedShares;
  /** The calibration's batches and the step it is at. Model work only. */
  private Iterator<ImageBatch> calibrationBatches;
  private long calibrationStep = -1;

  /**
   * @param global the global model, which assemblies update; the device evaluates and saves it
   * @param sub the device's sub-model, trained by {@code trainer} on {@code train} (its classes'
   *     images, labelled by their place among its classes)
   * @param calibrator a trainer of the global model's classifier
   * @param own the same images labelled by their class in the global model
   */
  SubModelStep(JobSpec spec, LayeredModel global, LayeredModel sub, SubModelSpec subSpec,
      SparseTrainer trainer, SparseTrainer calibrator, ImageSetDataset train, ImageSetDataset own, DeviceGroups groups,
      Collectives collectives, Compute compute, int startEpoch, int startBatch) {
    this.spec = spec;
    this.global = global;
    this.sub = sub;
    this.subSpec = subSpec;
    this.trainer = trainer;
    this.calibrator = calibrator;
    this.train = train;
    this.own = own;
    this.groups = groups;
    this.collectives = collectives;
    this.stages = new StageRunner(compute);
    this.batches = new EpochBatches(train, global.manager(), spec.batch(), spec.seed(), startEpoch, startBatch);
  }

  @Override
  public void cancel() {
    stages.cancel();
  }

  /** Time and bytes of a step's exchanges: AllReduce nanos, wall nanos waiting for them, bytes contributed. */
  private static final class Exchanges {
    long transferNanos;
    long waitedNanos;
    long bytes;
  }

  @Override
  public CompletionStage<StepResult> run(int epochIndex, long step, boolean average, Refresh refresh,
      boolean evaluated, List<Integer> cuts) {
    StageRunner.Step stages = this.stages.step();
    float[] loss = {Float.NaN};
    Exchanges exchanges = new Exchanges();
    CompletionStage<Float> trained = stages.compute("forward/backward", () -> {
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
      if (!average && !evaluated) {
        return CompletableFuture.completedFuture(null);
      }
      CompletionStage<Void> assembled = assemble(step, stages, exchanges);
      return evaluated ? assembled.thenCompose(done -> calibrate(step, stages, exchanges)) : assembled;
    }).thenApply(done -> new StepResult(loss[0], stages.computeNanos(), exchanges.transferNanos, 0,
        exchanges.waitedNanos, exchanges.bytes, 0, StepResult.UNCUT, exchanges.bytes == 0
            ? List.of() : List.of(new StepMetrics.GroupTime(group().groupId(), WireBytes.ALL_REDUCE,
                exchanges.transferNanos / 1e6))));
  }

  /** The plan's one group: every device, the whole global model; null when the device is alone. */
  private GroupPlan group() {
    return groups.allReduce().isEmpty() ? null : groups.allReduce().get(0);
  }

  /**
   * The sequence number of collective {@code k} of step {@code step}: the plan's shares (its first
   * assembly only), the assembly, the statistics, the calibration steps.
   */
  private long sequence(long step, int k) {
    return step * (3L + spec.subModels().calibrationSteps()) + k;
  }

  /** The element-wise sum of every device's {@code payload} (this device's alone without a group). */
  private CompletionStage<float[]> sum(long sequence, float[] payload, Exchanges exchanges) {
    GroupPlan group = group();
    if (group == null) {
      return CompletableFuture.completedFuture(payload);
    }
    long started = System.nanoTime();
    return collectives.sum(DeviceGroups.allReduceId(spec.jobId(), group), sequence, payload).thenApply(transfer -> {
      exchanges.waitedNanos += System.nanoTime() - started;
      exchanges.transferNanos += transfer.transferNanos();
      exchanges.bytes += 4L * payload.length;
      return transfer.result();
    });
  }

  /**
   * The assembly: this device's contribution summed with every other's, taken in, and the sub-model
   * refreshed from it. The shares (each weight's sum of samples over the devices that train it)
   * depend on the plan alone: the plan's first assembly sums them in an AllReduce of their own, and
   * every assembly sums the weights alone, always the same length (so the sums, and a job resumed
   * from a checkpoint, come out bit for bit as in an uninterrupted run). Every device's pipeline
   * starts with the plan, so all agree on which assembly is the first.
   */
  private CompletionStage<Void> assemble(long step, StageRunner.Step stages, Exchanges exchanges) {
    double samples = train.imageSet().size();
    CompletionStage<Void> shared = summedShares != null ? CompletableFuture.completedFuture(null)
        : stages.compute("contribution", () -> SubModels.shares(global, subSpec, sub, samples))
            .thenCompose(shares -> sum(sequence(step, 0), shares, exchanges))
            .thenAccept(summed -> summedShares = summed);
    return shared.thenCompose(done -> stages.compute("contribution", () -> {
      float[] contribution = SubModels.contribution(global, subSpec, sub, samples);
      // A diverged sub-model must not reach the global model of every device.
      for (float value : contribution) {
        if (!Float.isFinite(value)) {
          throw new IllegalStateException("the sub-model of device " + groups.device() + " holds a weight that is "
              + value + " after step " + step + ": it is not assembled");
        }
      }
      return contribution;
    })).thenCompose(contribution -> sum(sequence(step, 1), contribution, exchanges))
        .thenCompose(summed -> stages.compute("assembly", () -> {
          SubModels.absorb(global, summed, summedShares);
          SubModels.copyInto(global, subSpec, sub);
          return null;
        }));
  }

  /** The next of the device's images for the calibration at {@code step}: its own order, the same on every run. */
  private ImageBatch ownBatch(long step) {
    if (calibrationStep != step || !calibrationBatches.hasNext()) {
      calibrationStep = step;
      calibrationBatches = own.batches(global.manager(), spec.batch(), spec.seed() + step, 0).iterator();
    }
    return calibrationBatches.next();
  }

  /** The assembled model's BatchNorm statistics, then its classifier, fitted on every device's images. */
  private CompletionStage<Void> calibrate(long step, StageRunner.Step stages, Exchanges exchanges) {
    CompletionStage<Void> done = stages.compute("statistics", () -> {
      double[] sums = new double[BatchNormStatistics.length(global)];
      for (int seen = 0; seen < spec.subModels().statisticsSamples(); ) {
        try (ImageBatch batch = ownBatch(step)) {
          BatchNormStatistics.accumulate(global, batch.images(), sums);
          seen += batch.size();
        }
      }
      float[] contribution = new float[sums.length];
      for (int i = 0; i < sums.length; i++) {
        contribution[i] = (float) sums[i];
      }
      return contribution;
    }).thenCompose(contribution -> sum(sequence(step, 2), contribution, exchanges))
        .thenCompose(summed -> stages.compute("statistics", () -> {
          BatchNormStatistics.absorb(global, summed);
          return null;
        }));
    int[] classifier = {global.layerCount() - 1};
    int members = group() == null ? 1 : group().updaters().size();
    for (int k = 0; k < spec.subModels().calibrationSteps(); k++) {
      long sequence = sequence(step, 3 + k);
      done = done.thenCompose(previous -> stages.compute("calibration", () -> {
        try (ImageBatch batch = ownBatch(step)) {
          calibrator.forwardBackward(batch.images(), batch.labels());
        }
        return calibrator.exportGradients(classifier);
      })).thenCompose(gradients -> sum(sequence, gradients, exchanges))
          .thenCompose(summed -> stages.compute("calibration", () -> {
            for (int i = 0; i < summed.length; i++) {
              summed[i] /= members;
            }
            calibrator.importGradients(classifier, summed);
            calibrator.step();
            return null;
          }));
    }
    return done.thenCompose(calibrated -> stages.compute("calibration", () -> {
      SubModels.copyInto(global, subSpec, sub);
      return null;
    }));
  }
}
