package org.dsparse.protocol.job;

import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.dsparse.protocol.control.ControlMessage;

/**
 * Everything that defines a training job; every device receives the same one.
 *
 * @param jobId unique name, used in group ids and checkpoint folders
 * @param mode {@code FULL} (every device updates every layer: data-parallel) or {@code DSPARSE}
 * @param model a model name (mobilenetv2, small-cnn)
 * @param data a data source ({@code embedded}, {@code fashion-mnist[:folder]}, {@code cifar10:folder})
 * @param partition {@code iid} or {@code dirichlet:ALPHA}
 * @param heldOutFraction share of the training set the job leaves out (it pre-trained the initial
 *     checkpoint); the devices partition the rest
 * @param batch samples per step on each device
 * @param frozenPrefixMicroBatch samples per forward of a device's frozen prefix (0: the whole batch);
 *     the prefix keeps nothing for backward, so smaller micro-batches lower its peak without changing
 *     what is computed
 * @param updateMicroBatch samples per forward and backward of a device's updated layers (0: the
 *     whole batch; {@link #AUTO_MICRO_BATCH}: each device's own, as the plan chose it); the gradients
 *     add up to the whole batch's, but an updated BatchNorm normalises each micro-batch by its own
 *     statistics
 * @param upsample each image's pixels repeated into {@code upsample x upsample} blocks (nearest
 *     neighbour; 1 keeps the images as they are): a higher input resolution, where the first layers'
 *     activations dominate a device's memory
 * @param optimizer sgd, sgd-momentum or adam
 * @param learningRate fixed step size
 * @param momentum for sgd-momentum
 * @param learningRateScaling {@code none}, or {@code sqrt-updater-share}: in DSPARSE mode a layer's
 *     learning rate is multiplied by sqrt(updaters of the layer / devices of the job), so that a
 *     layer learnt from fewer devices' data, whose gradient is noisier than the data-parallel average,
 *     takes proportionally smaller steps (full updates are unaffected: every layer has every device)
 * @param epochs passes over each device's shard
 * @param maxStepsPerEpoch 0 for a whole pass, else at most this many steps per epoch
 * @param evaluateEvery 0: test accuracy at each epoch end only; K > 0: also every K steps within an
 *     epoch, for accuracy against training time
 * @param averagingInterval 1: the devices of a group AllReduce their gradients every step (DSparse's
 *     synchronous update, and synchronous data-parallel training in FULL mode); N > 1: each updater
 *     steps on its own gradients and the group averages its weights every N steps and at each epoch
 *     end (periodic model averaging, or local SGD in FULL mode: the same protocol in both modes, so
 *     that they compare like with like)
 * @param refreshInterval steps between weight refreshes of devices that do not update a layer
 *     (1: every step, exact synchronous semantics); every epoch ends with one
 * @param seed model initialisation, data partition and order
 * @param initialCheckpoint a checkpoint file every device starts from, or empty for a fresh model
 * @param checkpointDir where the coordinator's node saves a checkpoint at each epoch end, or empty
 * @param planner planner knobs
 * @param overlap whether and how a step's gradient AllReduces overlap its backward
 * @param compression whether and how each process group compresses its gradients
 * @param tiling whether a tile group of devices trains the first layers together, and which
 * @param subModels in mode {@code SUBMODELS}, how large the devices' sub-models may be
 * @param resumeFrom a directory of one epoch's checkpoints, from which every device continues
 *     (its own file, named after it, holds where training was and its optimizer state),
 *     {@link #RESUME_FROM_DEVICES} to continue from the last committed state the devices still hold,
 *     or empty
 */
public record JobSpec(
    String jobId,
    Mode mode,
    String model,
    String data,
    String partition,
    double heldOutFraction,
    int batch,
    int frozenPrefixMicroBatch,
    int updateMicroBatch,
    int upsample,
    String optimizer,
    float learningRate,
    float momentum,
    String learningRateScaling,
    int epochs,
    int maxStepsPerEpoch,
    int evaluateEvery,
    int testImages,
    int averagingInterval,
    int refreshInterval,
    long seed,
    String initialCheckpoint,
    String checkpointDir,
    PlannerKnobs planner,
    Overlap overlap,
    Compression compression,
    RefreshCompression refreshCompression,
    Tiling tiling,
    SubModels subModels,
    String resumeFrom) implements ControlMessage {

  /**
   * {@link #updateMicroBatch} chosen per device: the planner plans with micro-batches of
   * {@link #SMALLEST_MICRO_BATCH} samples, and each device of a DSparse plan then runs the largest
   * micro-batch (the batch halved as often as needed) under which its update set fits its budget.
   */
  public static final int AUTO_MICRO_BATCH = -1;
  /** The smallest micro-batch {@link #AUTO_MICRO_BATCH} gives a device. */
  public static final int SMALLEST_MICRO_BATCH = 4;

  /** {@link #resumeFrom} that continues from the state the job's devices hold (its coordinator was lost). */
  public static final String RESUME_FROM_DEVICES = "devices";

  /**
   * Data-parallel baseline; DSparse's sparse update; or sub-models (Chen and Qin 2020): each device
   * trains the part of the network its classes need on its own data, and the parts are assembled back
   * into one model every averaging interval and at each epoch's end.
   */
  public enum Mode { FULL, DSPARSE, SUBMODELS }

  /** Values of {@link #learningRateScaling}. */
  public static final String NO_SCALING = "none";
  public static final String SQRT_UPDATER_SHARE = "sqrt-updater-share";

  /**
   * @param strategy communication-aware or suffix
   * @param communicationWeight see {@code PlannerSettings}
   * @param memoryWeight see {@code PlannerSettings}
   * @param importance {@code positional} or {@code gradient-norm}
   * @param linkBytesPerSecond the network the planner assumes
   * @param hopLatencySeconds the same
   * @param channelSplits whether the planner may split a layer's output channels between process groups
   * @param sharedTailLayers the shared-tail strategy's tail length, 0 to let the planner choose
   * @param memoryCheck whether a plan that gives a device more than its budget is refused (off: it runs,
   *     and the device's own limit decides, as a measurement of what happens)
   */
  public record PlannerKnobs(String strategy, double communicationWeight, double memoryWeight, String importance,
      double linkBytesPerSecond, double hopLatencySeconds, boolean channelSplits, int sharedTailLayers,
      boolean memoryCheck) implements ControlMessage {}

  /**
   * Communication overlapped with computation: the backward is cut at layer boundaries into
   * segments, and each segment's gradients are AllReduced as soon as they are final, while the
   * backward goes on below.
   *
   * @param kind {@code OFF}: a step's AllReduces start after its backward; {@code FIXED}: the same
   *     cuts every step, into {@code segments} segments of about equal bytes; {@code DYNAMIC}:
   *     DynaComm's dynamic decomposition into at most {@code segments} segments, from measured
   *     backward and link times
   * @param profileEvery with {@code DYNAMIC}, steps between steps that time every layer (0: the
   *     first step only)
   * @param nextForwardAhead whether, while a step's collectives move data, the device takes the
   *     next batch through its frozen layers (those below its first updated one), unless the step
   *     refreshes weights; independent of the cuts
   */
  public record Overlap(Kind kind, int segments, int profileEvery, boolean nextForwardAhead) implements ControlMessage {
    public enum Kind { OFF, FIXED, DYNAMIC }

    public Overlap {
      Objects.requireNonNull(kind, "kind");
      if (segments < 1 || segments > MAX_OVERLAP_SEGMENTS || profileEvery < 0) {
        throw new IllegalArgumentException("overlap: segments must be in [1, " + MAX_OVERLAP_SEGMENTS
            + "] and the profile interval not negative, got " + segments + " and " + profileEvery);
      }
    }
  }

  public JobSpec {
    Objects.requireNonNull(jobId, "jobId");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(planner, "planner");
    Objects.requireNonNull(overlap, "overlap");
    Objects.requireNonNull(compression, "compression");
    if (compression.enabled() && averagingInterval > 1) {
      throw new IllegalArgumentException("job " + jobId + ": compression compresses the gradients a group AllReduces"
          + " every step, and averaging-interval " + averagingInterval + " averages weights instead");
    }
    Objects.requireNonNull(refreshCompression, "refreshCompression");
    Objects.requireNonNull(tiling, "tiling");
    Objects.requireNonNull(subModels, "subModels");
    Objects.requireNonNull(resumeFrom, "resumeFrom");
    if (!jobId.matches("[A-Za-z0-9_.-]+")) {
      throw new IllegalArgumentException("job id '" + jobId + "' may use only letters, digits, '_', '.', '-'");
    }
    if (!(heldOutFraction >= 0 && heldOutFraction < 1)) {
      throw new IllegalArgumentException("job " + jobId + ": held-out fraction must be in [0, 1), got "
          + heldOutFraction);
    }
    if (batch <= 0 || epochs <= 0 || maxStepsPerEpoch < 0 || evaluateEvery < 0 || testImages < 0
        || refreshInterval <= 0 || averagingInterval <= 0) {
      throw new IllegalArgumentException("job " + jobId + ": batch, epochs, averaging and refresh intervals must be"
          + " positive, max steps per epoch, evaluate-every and test images non-negative");
    }
    Objects.requireNonNull(learningRateScaling, "learningRateScaling");
    if (!learningRateScaling.equals(NO_SCALING) && !learningRateScaling.equals(SQRT_UPDATER_SHARE)) {
      throw new IllegalArgumentException("job " + jobId + ": learning-rate scaling '" + learningRateScaling
          + "' is neither " + NO_SCALING + " nor " + SQRT_UPDATER_SHARE);
    }
    if (upsample < 1) {
      throw new IllegalArgumentException("job " + jobId + ": upsample must be 1 (as they are) or more, got " + upsample);
    }
    if (updateMicroBatch < AUTO_MICRO_BATCH) {
      throw new IllegalArgumentException("job " + jobId + ": update micro-batch must be 0 (whole batch), positive or"
          + " auto, got " + updateMicroBatch);
    }
    if (frozenPrefixMicroBatch < 0) {
      throw new IllegalArgumentException("job " + jobId + ": frozen-prefix micro-batch must be 0 (whole batch) or"
          + " positive, got " + frozenPrefixMicroBatch);
    }
  }

  /**
   * Gradient compression in each process group that AllReduces gradients (see
   * {@code org.dsparse.core.compression.Compression} for what the numbers mean).
   *
   * @param kind {@code none}, {@code topk} (Top-k with error feedback, the baseline) or {@code sketch}
   *     (gs-SGD: Count-Sketch, heavy hitters, exact values; error feedback)
   * @param ratio the reduction of each member's gradient bytes on the wire, above 1
   * @param rows the sketch's rows
   * @param columns the sketch's columns; 0: from the ratio
   * @param minFloats groups with fewer gradient floats travel dense
   * @param valuesShare the sketch's share of its budget spent on exact values, when columns is 0
   */
  public record Compression(String kind, double ratio, int rows, int columns, int minFloats, double valuesShare)
      implements ControlMessage {
    public static final Compression NONE = new Compression("none", 1, 1, 0, 0, 0.25);


    public Compression {
      Objects.requireNonNull(kind, "kind");
      if (!kind.equals("none") && !kind.equals("topk") && !kind.equals("sketch")) {
        throw new IllegalArgumentException("compression kind '" + kind + "' is not none, topk or sketch");
      }
    }

    /** The sketch's rows and values share unless set otherwise (as {@code reference.conf} has them). */
    public static final int DEFAULT_ROWS = 3;
    public static final double DEFAULT_VALUES_SHARE = 0.25;

    public boolean enabled() {
      return !kind.equals("none");
    }

    /**
     * {@code topk-50x}, {@code sketch-50x}; a sketch split otherwise than by default adds its rows
     * ({@code -r5}), columns ({@code -c4096}) or values share ({@code -v0.50}).
     */
    public String name() {
      String name = kind + "-" + String.format(java.util.Locale.ROOT, "%.0fx", ratio);
      if (kind.equals("sketch")) {
        name += (rows != DEFAULT_ROWS ? "-r" + rows : "") + (columns > 0 ? "-c" + columns : "")
            + (columns == 0 && valuesShare != DEFAULT_VALUES_SHARE
                ? String.format(java.util.Locale.ROOT, "-v%.2f", valuesShare) : "");
      }
      return name;
    }
  }

  /**
   * Refreshes that send the change since the receivers' copy, compressed, the sender keeping the
   * rest for later (error feedback at the sender, as EF21-P's compressed model broadcast); see
   * {@code org.dsparse.core.compression.RefreshCodec}. Refreshes that commit a step (every
   * {@code exactEvery}-th, each epoch's last, each evaluated step's) send the weights exactly, so that
   * every device holds every layer exactly at a committed step.
   *
   * @param kind {@code none} (every refresh exact), {@code topk} or {@code quantize}
   * @param ratio with topk: the dense refresh's bytes over the compressed one's
   * @param bits with quantize: 8 or 4 bits per coordinate
   * @param exactEvery every this many refreshes one is exact and commits the step (1: all exact)
   * @param checkEvery every this many compressed refreshes the receivers check their copies against
   *     the sender's checksum together, and a group with a mismatch is sent its weights exactly at once
   * @param overlap a compressed refresh travels during the next step's forward and backward, which
   *     compute with the copies one refresh behind (one step of staleness); exact ones never do
   */
  public record RefreshCompression(String kind, double ratio, int bits, int exactEvery, int checkEvery,
      boolean overlap) implements ControlMessage {
    public static final RefreshCompression NONE = new RefreshCompression("none", 20, 8, 1, 1, false);

    public RefreshCompression {
      Objects.requireNonNull(kind, "kind");
      if (!kind.equals("none") && !kind.equals("topk") && !kind.equals("quantize")) {
        throw new IllegalArgumentException("refresh compression '" + kind + "' is not none, topk or quantize");
      }
      if (exactEvery < 1 || checkEvery < 1) {
        throw new IllegalArgumentException("refresh compression: exact-every and check-every must be 1 or more, got "
            + exactEvery + " and " + checkEvery);
      }
    }

    public boolean enabled() {
      return !kind.equals("none") && exactEvery > 1;
    }
  }

  /**
   * A tile group: devices that train the network's first {@code layers} layers together, each on a
   * spatial tile of one batch, while DSparse's plan covers the rest of the network among the other
   * devices and the tile group's head (its member with the most memory).
   *
   * @param devices the tile group's members by name; empty: the {@code count} devices with the least
   *     memory
   * @param count with no names, how many devices form the tile group (0: no tiling)
   * @param layers how many of the first layers are tiled; the cost model fuses them into groups
   * @param flopsPerSecond what the slowest member computes, for the cost model's choice of grid and
   *     grouping
   * @param grouping {@link #BEST_GROUPING}: the cost model's best fusion of the tiled layers into
   *     groups, of any shape; {@link #FIXED_GROUPING}: its best among those that fuse every n layers
   *     (a comparison, to measure what the free choice gains)
   */
  public record Tiling(List<String> devices, int count, int layers, double flopsPerSecond, String grouping)
      implements ControlMessage {
    public static final String BEST_GROUPING = "best";
    public static final String FIXED_GROUPING = "fixed";
    public static final Tiling NONE = new Tiling(List.of(), 0, 0, 1e9, BEST_GROUPING);

    public Tiling {
      devices = List.copyOf(devices);
      if (count < 0 || layers < 0 || !(flopsPerSecond > 0)) {
        throw new IllegalArgumentException("tiling: count and layers must not be negative, the compute rate must be"
            + " positive, got " + count + ", " + layers + " and " + flopsPerSecond);
      }
      if (devices.size() == 1 || count == 1) {
        throw new IllegalArgumentException("tiling: a tile group needs at least two devices");
      }
      if ((!devices.isEmpty() || count > 0) && layers == 0) {
        throw new IllegalArgumentException("tiling: a tile group needs at least one layer to tile");
      }
      if (!BEST_GROUPING.equals(grouping) && !FIXED_GROUPING.equals(grouping)) {
        throw new IllegalArgumentException("tiling: grouping '" + grouping + "' is neither " + BEST_GROUPING + " nor "
            + FIXED_GROUPING);
      }
    }

    public boolean enabled() {
      return !devices.isEmpty() || count > 0;
    }
  }

  /**
   * How a job of mode {@code SUBMODELS} sizes its devices' sub-models.
   *
   * @param computeShare the largest share of the full model's computation per sample a sub-model may
   *     take (the device's memory budget bounds it too)
   * @param relevanceSamples training images (the held-out share when the job has one) on which each
   *     filter's relevance to each class is measured
   * @param statisticsSamples images per device on which the assembled model's BatchNorm statistics
   *     are estimated before it is evaluated
   * @param calibrationSteps steps that fit the assembled model's classifier on every device's data
   *     (gradients averaged among the devices) before it is evaluated; 0 for none
   */
  public record SubModels(double computeShare, int relevanceSamples, int statisticsSamples, int calibrationSteps)
      implements ControlMessage {
    public static final SubModels DEFAULT = new SubModels(1.0 / 3, 1000, 256, 10);

    public SubModels {
      if (!(computeShare > 0 && computeShare <= 1) || relevanceSamples < 1 || statisticsSamples < 1
          || calibrationSteps < 0) {
        throw new IllegalArgumentException("sub-models: the compute share must be in (0, 1], the relevance and"
            + " statistics samples positive, the calibration steps not negative, got " + computeShare + ", "
            + relevanceSamples + ", " + statisticsSamples + " and " + calibrationSteps);
      }
    }
  }

  /** The same job with another data partition. */
  public JobSpec withPartition(String other) {
    return with(b -> b.partition = other);
  }

  /** The same job with another tile group. */
  public JobSpec withTiling(Tiling other) {
    return with(b -> b.tiling = other);
  }

  /** The same job with the planner's memory check on or off. */
  public JobSpec withMemoryCheck(boolean on) {
    PlannerKnobs p = planner;
    return with(b -> b.planner = new PlannerKnobs(p.strategy(), p.communicationWeight(), p.memoryWeight(),
        p.importance(), p.linkBytesPerSecond(), p.hopLatencySeconds(), p.channelSplits(), p.sharedTailLayers(), on));
  }

  /** The same job planned by another strategy ({@code planner.strategy}'s name, e.g. {@code uniform-tail}). */
  public JobSpec withPlannerStrategy(String strategy) {
    PlannerKnobs p = planner;
    return with(b -> b.planner = new PlannerKnobs(strategy, p.communicationWeight(), p.memoryWeight(),
        p.importance(), p.linkBytesPerSecond(), p.hopLatencySeconds(), p.channelSplits(), p.sharedTailLayers(),
        p.memoryCheck()));
  }

  /** The same job with another compression. */
  public JobSpec withCompression(Compression other) {
    return with(b -> b.compression = other);
  }

  /** The most segments a backward may be cut into (each is a collective of its own per group). */
  public static final int MAX_OVERLAP_SEGMENTS = 32;

  /**
   * Whether the job's settings ask the step to overlap its gradient AllReduces with its backward
   * (a mode whose step sends nothing during its backward declines: {@code TrainingMode.overlaps}).
   */
  public boolean overlaps() {
    return overlap.kind() != Overlap.Kind.OFF && !averagesWeights();
  }

  /** The same job in another mode, under another id. */
  public JobSpec withMode(Mode other, String otherJobId) {
    return with(b -> {
      b.jobId = otherJobId;
      b.mode = other;
    });
  }

  /**
   * The multiplier of the learning rate of a layer that {@code updaters} of the job's {@code devices}
   * update.
   */
  public double learningRateScale(int updaters, int devices) {
    if (updaters <= 0 || updaters > devices) {
      throw new IllegalArgumentException(updaters + " updaters of " + devices + " devices");
    }
    return learningRateScaling.equals(SQRT_UPDATER_SHARE) ? Math.sqrt((double) updaters / devices) : 1;
  }

  /** Whether groups average weights periodically instead of gradients every step, in either mode. */
  public boolean averagesWeights() {
    return averagingInterval > 1;
  }

  /**
   * The aggregation protocol's name in reports: {@code sync} ({@code sync-overlap-K} with the
   * backward cut into K overlapped segments, {@code sync-overlap-dynamic} with DynaComm's dynamic
   * decomposition), or {@code periodic-N}; with compression, {@code -sketch-50x} or {@code -topk-50x} after it.
   */
  public String protocol() {
    String aggregation = averagingInterval > 1 ? "periodic-" + averagingInterval : switch (overlap.kind()) {
      case OFF -> "sync";
      case FIXED -> "sync-overlap-" + overlap.segments();
      case DYNAMIC -> "sync-overlap-dynamic";
    };
    return compression.enabled() ? aggregation + "-" + compression.name() : aggregation;
  }


  /** The same job under another aggregation protocol: averaging and refreshing every {@code interval} steps. */
  public JobSpec withProtocol(int interval) {
    return with(b -> {
      b.averagingInterval = interval;
      b.refreshInterval = interval;
    });
  }

  /** The same job cut to at most {@code steps} steps per epoch, evaluated at epoch ends only. */
  public JobSpec withMaxStepsPerEpoch(int steps) {
    return with(b -> {
      b.maxStepsPerEpoch = steps;
      b.evaluateEvery = 0;
    });
  }

  /**
   * The same job cut to at most {@code steps} steps per epoch, evaluated as before: another run's
   * steps, for a run that compares with it on fewer devices (more steps per epoch uncut).
   */
  public JobSpec withStepsPerEpochAtMost(int steps) {
    return with(b -> b.maxStepsPerEpoch = maxStepsPerEpoch > 0 ? Math.min(maxStepsPerEpoch, steps) : steps);
  }

  /** The same job with another refresh interval. */
  public JobSpec withRefreshInterval(int interval) {
    return with(b -> b.refreshInterval = interval);
  }

  /** The same job resuming from another directory of checkpoints. */
  public JobSpec withResumeFrom(String directory) {
    return with(b -> b.resumeFrom = directory);
  }

  /** The same job starting from another checkpoint. */
  public JobSpec withInitialCheckpoint(String path) {
    return with(b -> b.initialCheckpoint = path);
  }

  /**
   * This job with what {@code change} sets on a copy of its components changed, as Java's proposed
   * derived record creation would write it ({@code spec with { partition = other; }}).
   */
  private JobSpec with(Consumer<Builder> change) {
    Builder builder = new Builder(this);
    change.accept(builder);
    return builder.build();
  }

  /**
   * A job's components, copied so that each {@code with*} method names only what it changes: the
   * canonical constructor is spelt out once, here, and not again in every such method.
   */
  private static final class Builder {
    String jobId;
    Mode mode;
    String model;
    String data;
    String partition;
    double heldOutFraction;
    int batch;
    int frozenPrefixMicroBatch;
    int updateMicroBatch;
    int upsample;
    String optimizer;
    float learningRate;
    float momentum;
    String learningRateScaling;
    int epochs;
    int maxStepsPerEpoch;
    int evaluateEvery;
    int testImages;
    int averagingInterval;
    int refreshInterval;
    long seed;
    String initialCheckpoint;
    String checkpointDir;
    PlannerKnobs planner;
    Overlap overlap;
    Compression compression;
    RefreshCompression refreshCompression;
    Tiling tiling;
    SubModels subModels;
    String resumeFrom;

    Builder(JobSpec spec) {
      jobId = spec.jobId;
      mode = spec.mode;
      model = spec.model;
      data = spec.data;
      partition = spec.partition;
      heldOutFraction = spec.heldOutFraction;
      batch = spec.batch;
      frozenPrefixMicroBatch = spec.frozenPrefixMicroBatch;
      updateMicroBatch = spec.updateMicroBatch;
      upsample = spec.upsample;
      optimizer = spec.optimizer;
      learningRate = spec.learningRate;
      momentum = spec.momentum;
      learningRateScaling = spec.learningRateScaling;
      epochs = spec.epochs;
      maxStepsPerEpoch = spec.maxStepsPerEpoch;
      evaluateEvery = spec.evaluateEvery;
      testImages = spec.testImages;
      averagingInterval = spec.averagingInterval;
      refreshInterval = spec.refreshInterval;
      seed = spec.seed;
      initialCheckpoint = spec.initialCheckpoint;
      checkpointDir = spec.checkpointDir;
      planner = spec.planner;
      overlap = spec.overlap;
      compression = spec.compression;
      refreshCompression = spec.refreshCompression;
      tiling = spec.tiling;
      subModels = spec.subModels;
      resumeFrom = spec.resumeFrom;
    }

    JobSpec build() {
      return new JobSpec(jobId, mode, model, data, partition, heldOutFraction, batch, frozenPrefixMicroBatch, updateMicroBatch,
          upsample, optimizer, learningRate, momentum, learningRateScaling, epochs, maxStepsPerEpoch, evaluateEvery,
          testImages, averagingInterval, refreshInterval, seed, initialCheckpoint, checkpointDir, planner, overlap, compression,
          refreshCompression, tiling, subModels, resumeFrom);
    }
  }
}
