package org.dsparse.actors.step;

import ai.djl.ndarray.NDList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.TreeMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.core.collective.MemberParts;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.TileRole;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.tiling.TiledStep;
import org.dsparse.training.tiling.TiledTrainer;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's training step, top to bottom: forward and backward through its updated layers; the
 * AllReduce of each group's gradients among its updaters (all groups at once); the optimizer step;
 * with periodic model averaging, on averaging steps, the AllReduce of the groups' weights; on
 * refresh steps, the Broadcast of each group's weights from its leader to the devices that do not
 * update it. Model work runs on {@link Compute}, collectives on {@link Collectives}; the step is
 * one chain of futures, and each step's progress lives in its own {@link Run}.
 *
 * <p>With overlap, the backward is cut at the step's layer indices (the same on every device): each
 * segment's part of every group goes to its AllReduce as soon as the segment's gradients are final,
 * while the backward goes on below it, and the optimizer step waits for all parts. Parts are
 * AllReduced in the order the backward finishes them, the same on every member. Each step reports
 * its segments' backward and transfer times, from which the coordinator chooses later cuts.
 *
 * <p>The next step's forward waits only for the layers it uses: while a step's AllReduces move
 * data, the model thread takes the next batch through the frozen layers below the first updated
 * one, which no AllReduce changes (unless the step refreshes weights, which may change them).
 *
 * <p>An AllReduce payload is a group's (or part's) gradients followed by its slices' BatchNorm
 * running statistics, so that averaging also keeps the updaters' statistics identical. A refresh
 * payload is the group's weights and buffers, as {@link LayeredModel#exportWeights(List)} lays them
 * out. A group may hold only some output channels of a layer; the trainer then changes only those
 * rows here, and the rest arrive with the other groups' refreshes.
 *
 * <p>On a member of the job's tile group the forward and backward are its tiles of the batch the
 * group shares ({@link TiledTrainer}), the head running the rest of the network; the tiled layers'
 * gradients (each member's share times the group's size) are then one more group's AllReduce, among
 * the members, and everything after is as on any device.
 *
 * <p>Steps must not overlap: the next one starts after the previous one completed. A cancelled
 * pipeline (its job abandoned a step to re-plan) runs no further model work: every stage that has
 * not started fails, so nothing changes the model after the abandoning device answered. (A tile
 * group's step goes on to its next exchange, which fails as the job's process groups are stopped; it
 * changes only its own tensors and the tiled layers' BatchNorm statistics of a model the re-plan
 * replaces.)
 */
public final class StepPipeline implements DeviceStep {
  /**
   * Collectives a group may run per step (a part of a compressed group takes two): sequence numbers
   * are {@code step * this + k}.
   */
  private static final int COLLECTIVES_PER_STEP = (JobSpec.MAX_OVERLAP_SEGMENTS + 1)
      * CompressedGradients.COLLECTIVES_PER_PART;

  /** Exchanges a tile group may run per step: sequence numbers of its exchange are {@code step * this + k}. */
  private static final long TILE_EXCHANGES_PER_STEP = 1L << 20;

  private final JobSpec spec;
  private final LayeredModel model;
  private final SparseTrainer trainer;
  /** This device's tiles and its place in the tile group, or null outside one. */
  private final TiledTrainer tiled;
  private final TileRole tile;
  private final DeviceGroups groups;
  private final Collectives collectives;
  private final Compute compute;
  /** The groups whose gradients compress, and their residuals. */
  private final CompressedGradients compressed;
  /** The epochs' batches; touched only by model work. */
  private final EpochBatches batches;
  /** The next batch of the current epoch and its frozen prefix's output, taken while collectives ran. */
  private Ahead ahead;
  private volatile boolean cancelled;

  private record Ahead(int epoch, ImageBatch batch, NDList prefix) {}

  public StepPipeline(JobSpec spec, LayeredModel model, SparseTrainer trainer, ImageSetDataset train,
      DeviceGroups groups, Collectives collectives, Compute compute, int startEpoch, int startBatch) {
    this(spec, model, trainer, null, null, train, groups, collectives, compute, startEpoch, startBatch);
  }

  /**
   * The step of a member of the job's tile group ({@code tile}): {@code tiled} runs its tiles of the
   * batch and, on the head, the rest of the network with {@code trainer}.
   */
  public StepPipeline(JobSpec spec, LayeredModel model, SparseTrainer trainer, TiledTrainer tiled, TileRole tile,
      ImageSetDataset train, DeviceGroups groups, Collectives collectives, Compute compute, int startEpoch,
      int startBatch) {
    if ((tiled == null) != (tile == null)) {
      throw new IllegalArgumentException("a tile group's member needs its tiles and its role, got " + tiled + " and "
          + tile);
    }
    this.tiled = tiled;
    this.tile = tile;
    this.batches = new EpochBatches(train, model.manager(), spec.batch(), spec.seed(), startEpoch, startBatch);
    this.spec = spec;
    this.model = model;
    this.trainer = trainer;
    this.groups = groups;
    this.collectives = collectives;
    this.compute = compute;
    this.compressed = new CompressedGradients(spec, groups.device(), groups.allReduce(),
        group -> trainer.gradientLength(slices(group)));
  }

  /** Groups the job's compression leaves dense on this device, and why. */
  @Override
  public Map<String, String> denseGroups() {
    return compressed.denseGroups();
  }

  /** Fails every stage not yet started: the job abandoned its step. */
  @Override
  public void cancel() {
    cancelled = true;
  }

  /** Each segment's parts of the groups, for a backward cut at {@code cuts}. */
  private Map<Integer, List<Part>> partsBySegment(int[] cuts) {
    Map<Integer, List<Part>> parts = new HashMap<>();
    for (GroupPlan group : groups.allReduce()) {
      Map<Integer, List<ChannelSlice>> bySegment = new java.util.TreeMap<>();
      for (ChannelSlice slice : payloadOrder(group)) {
        bySegment.computeIfAbsent(segmentOf(cuts, slice.layer()), s -> new ArrayList<>()).add(slice);
      }
      bySegment.forEach((segment, slices) ->
          parts.computeIfAbsent(segment, s -> new ArrayList<>()).add(new Part(group, slices)));
    }
    return parts;
  }

  /** A group's slices in the order of its gradient payload: by layer, then channel. */
  private static List<ChannelSlice> payloadOrder(GroupPlan group) {
    return slices(group).stream()
        .sorted(java.util.Comparator.comparingInt(ChannelSlice::layer).thenComparingInt(ChannelSlice::from)).toList();
  }

  /** The segment holding layer {@code layer}: the number of cuts at or below it. */
  private static int segmentOf(int[] cuts, int layer) {
    int segment = 0;
    while (segment < cuts.length && cuts[segment] <= layer) {
      segment++;
    }
    return segment;
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

  /** A group's slices within one segment of the backward (the whole group without overlap). */
  private record Part(GroupPlan group, List<ChannelSlice> slices) {}

  /**
   * A part's payload. Gradient payloads are laid out by {@link MemberParts}, each slice's floats
   * (its gradients, then its BatchNorm statistics) cut into one piece per member of the group: the
   * ring then sums an element in the same order whether the backward is cut or not (overlap changes
   * no float), and stays balanced.
   *
   * @param partLengths the member parts' lengths; empty: parts of equal length
   */
  private record Payload(float[] floats, int[] partLengths) {}

  /** A part's averaged payload. */
  private record Reduced(Part part, float[] payload) {}

  /**
   * What one step did.
   *
   * @param computeNanos wall time of its model work
   * @param allReduceNanos its AllReduces' own time (groups run at once: the longest of each round;
   *     a group's parts one after another: their sum)
   * @param broadcastNanos the same for its refresh Broadcasts
   * @param collectiveWallNanos wall time spent waiting for collectives, later members included
   * @param allReduceBytes payload this device contributed to AllReduces
   * @param broadcastBytes payload of the Broadcasts it sent or received
   * @param keptShardWeights on refresh steps, the weights of the groups whose shard this device keeps
   * @param segments its backward's segments: times and AllReduce payloads
   * @param groupTimes each of its groups' own collective time in the step, by kind
   */
  public record Result(float loss, long computeNanos, long allReduceNanos, long broadcastNanos,
      long collectiveWallNanos, long allReduceBytes, long broadcastBytes, Map<String, float[]> keptShardWeights,
      StepMetrics.Segments segments, List<StepMetrics.GroupTime> groupTimes) {}

  /** A stage of the step failed; the message says which and why. */
  public static final class StageFailure extends RuntimeException {
    StageFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Runs step {@code step} of epoch {@code epoch}; {@code average}: with periodic model averaging,
   * average the groups' weights on this step; {@code refresh}: send the groups' weights to the
   * devices that do not update them; {@code cuts}: where to cut the backward (empty: no overlap).
   * {@code evaluated} changes nothing here: the model is evaluated as the step leaves it.
   */
  @Override
  public CompletionStage<Result> run(int epoch, long step, boolean average, boolean refresh, boolean evaluated,
      List<Integer> cuts) {
    Run run;
    try {
      run = new Run(step, checkedCuts(cuts));
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new StageFailure("step " + step + ": " + e.getMessage(), e));
    }
    boolean averagesWeights = spec.averagesWeights();
    boolean forwardAhead = spec.overlap().nextForwardAhead() && !refresh && trainer.update().firstUpdated() > 0;
    CompletionStage<Void> launched = tiled == null
        ? run.compute("forward/backward", () -> forwardBackward(epoch, run, !averagesWeights))
        : run.compute("forward/backward", () -> tiledForwardBackward(epoch, run, !averagesWeights))
            .thenCompose(tiles -> tiles);
    return launched.thenCompose(backward -> run.allReduced().thenCombine(forwardAhead
            ? run.compute("the next batch's frozen layers", this::takeNextBatchAhead) : done(), (averaged, x) -> averaged))
        .thenCompose(averaged -> run.compute("optimizer step", () -> applyAndStep(averaged)))
        .thenCompose(stepped -> averagesWeights && average ? averageWeights(run) : done())
        .thenCompose(averaged -> refresh ? refresh(run) : CompletableFuture.completedFuture(Map.of()))
        .thenApply(run::result);
  }

  /** Periodic model averaging: the groups' weights averaged among their updaters and taken in. */
  private CompletionStage<Void> averageWeights(Run run) {
    return run.compute("exporting weights", () -> {
      groups.allReduce().forEach(group -> run.allReduce(new Part(group, slices(group)),
          new Payload(model.exportWeights(slices(group)), new int[0]), -1));
      return null;
    }).thenCompose(launched -> run.allReduced())
        .thenCompose(averaged -> run.compute("applying averaged weights", () -> {
          averaged.forEach(reduced -> model.importWeights(reduced.part().slices(), reduced.payload()));
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
              received.forEach((group, weights) -> model.importWeights(slices(group), weights));
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

  /**
   * Forward and backward on the next batch of {@code epochIndex}; when {@code reduceGradients},
   * starts each group's AllReduce (each part's, with overlap, as soon as the backward has finished
   * it).
   */
  private Void forwardBackward(int epochIndex, Run run, boolean reduceGradients) {
    Ahead taken = ahead;
    ahead = null;
    if (taken != null && taken.epoch() != epochIndex) {
      // A new epoch: the batch taken ahead belongs to the old one's order.
      close(taken);
      taken = null;
    }
    ImageBatch next = taken != null ? taken.batch() : batches.next(epochIndex);
    NDList prefix = taken != null ? taken.prefix() : null;
    try (ImageBatch batch = next) {
      run.loss = trainer.forwardBackward(batch.images(), prefix, batch.labels(), run.cuts,
          segmentsDone(run, reduceGradients));
      return null;
    } finally {
      if (prefix != null) {
        prefix.close();
      }
    }
  }

  /**
   * The same on a member of the tile group: its tiles of the next batch (the head's: every member
   * reads the same), the head running the rest of the network; it goes on on the model thread as the
   * tile group's exchanges answer. Each member leaves its tiles' weight gradients times the group's
   * size, so that the tiled layers' AllReduce among the members averages them into the batch's.
   */
  private CompletionStage<Void> tiledForwardBackward(int epochIndex, Run run, boolean reduceGradients) {
    ImageBatch batch = batches.next(epochIndex);
    Executor modelThread = run.modelThread("tiles");
    CompletionStage<Float> tiles;
    try {
      TileGroupExchange exchange = new TileGroupExchange(collectives, tile.exchangeId(spec.jobId()),
          tile.rank(groups.device()), tile.members().size(), new AtomicLong(run.step * TILE_EXCHANGES_PER_STEP));
      tiles = tiled.step(batch.images(), batch.labels(), exchange, modelThread, model.manager(), run.cuts,
          segmentsDone(run, reduceGradients), TiledStep.WeightGradients.SCALED_FOR_AVERAGE);
    } catch (RuntimeException e) {
      batch.close();
      throw e;
    }
    return tiles.handleAsync((loss, error) -> {
      batch.close();
      if (error != null) {
        throw new StageFailure("the tile group's step failed: " + message(error), error);
      }
      run.loss = loss;
      return null;
    }, modelThread);
  }

  /**
   * Hears each backward segment finish: when {@code reduceGradients}, starts its parts' AllReduces,
   * and keeps its time.
   */
  private SparseTrainer.SegmentDone segmentsDone(Run run, boolean reduceGradients) {
    long[] lastDone = new long[1];
    return (segment, backwardNanos) -> {
      long entered = System.nanoTime();
      if (reduceGradients) {
        for (Part part : run.partsBySegment.getOrDefault(segment, List.of())) {
          if (compressed.compresses(part.group())) {
            run.exchangeCompressed(part, gradientOffset(part), sliceLengths(part),
                trainer.exportGradients(part.slices()), buffers(part.slices()), segment);
          } else {
            run.allReduce(part, gradients(part), segment);
          }
        }
      }
      // Segments finish from the top down; a segment's time ends after its gradients' hand-over.
      long handedOver = backwardNanos + System.nanoTime() - entered;
      run.segmentBackwardNanos[segment] = handedOver - lastDone[0];
      lastDone[0] = handedOver;
    };
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
    if (taken.prefix() != null) {
      taken.prefix().close();
    }
    taken.batch().close();
  }

  /** A part's gradient payload, laid out as {@link Payload} says. */
  private Payload gradients(Part part) {
    List<float[]> perSlice = new ArrayList<>();
    for (ChannelSlice slice : part.slices()) {
      float[] gradients = trainer.exportGradients(List.of(slice));
      float[] floats = Arrays.copyOf(gradients, gradients.length + model.bufferLength(List.of(slice)));
      model.exportBuffers(List.of(slice), floats, gradients.length);
      perSlice.add(floats);
    }
    int members = part.group().updaters().size();
    int[] sliceLengths = perSlice.stream().mapToInt(floats -> floats.length).toArray();
    return new Payload(MemberParts.gather(perSlice, members), MemberParts.partLengths(sliceLengths, members));
  }

  /** The slices' BatchNorm statistics, slice after slice. */
  private float[] buffers(List<ChannelSlice> slices) {
    float[] floats = new float[model.bufferLength(slices)];
    int at = 0;
    for (ChannelSlice slice : slices) {
      model.exportBuffers(List.of(slice), floats, at);
      at += model.bufferLength(List.of(slice));
    }
    return floats;
  }

  /** Each slice's gradient floats, then each slice's BatchNorm floats. */
  private int[][] sliceLengths(Part part) {
    return new int[][] {
        part.slices().stream().mapToInt(slice -> trainer.gradientLength(List.of(slice))).toArray(),
        part.slices().stream().mapToInt(slice -> model.bufferLength(List.of(slice))).toArray()};
  }

  /** Where a part's gradients start in its group's gradient vector (the group's slices in payload order). */
  private int gradientOffset(Part part) {
    int offset = 0;
    for (ChannelSlice slice : payloadOrder(part.group())) {
      if (slice.equals(part.slices().get(0))) {
        return offset;
      }
      offset += trainer.gradientLength(List.of(slice));
    }
    throw new IllegalStateException("part of group " + part.group().groupId() + " outside the group");
  }

  /**
   * A compressed part's averaged gradients and statistics laid out as {@link Payload} lays a dense
   * part's, so that taking them back is the same for both.
   */
  private static float[] asPayload(Part part, int[][] sliceLengths, float[] gradients, float[] buffers) {
    List<float[]> perSlice = new ArrayList<>();
    int g = 0;
    int b = 0;
    for (int i = 0; i < part.slices().size(); i++) {
      int gradientLength = sliceLengths[0][i];
      int bufferLength = sliceLengths[1][i];
      float[] floats = Arrays.copyOfRange(gradients, g, g + gradientLength + bufferLength);
      System.arraycopy(buffers, b, floats, gradientLength, bufferLength);
      perSlice.add(floats);
      g += gradientLength;
      b += bufferLength;
    }
    return MemberParts.gather(perSlice, part.group().updaters().size());
  }

  /** Takes the averaged gradient payloads back, then runs the optimizer step. */
  private Void applyAndStep(List<Reduced> averaged) {
    for (Reduced reduced : averaged) {
      List<ChannelSlice> slices = reduced.part().slices();
      List<float[]> perSlice = new ArrayList<>();
      for (ChannelSlice slice : slices) {
        perSlice.add(new float[trainer.gradientLength(List.of(slice)) + model.bufferLength(List.of(slice))]);
      }
      MemberParts.scatter(reduced.payload(), perSlice, reduced.part().group().updaters().size());
      for (int i = 0; i < slices.size(); i++) {
        List<ChannelSlice> slice = List.of(slices.get(i));
        int gradientLength = trainer.gradientLength(slice);
        trainer.importGradients(slice, Arrays.copyOf(perSlice.get(i), gradientLength));
        model.importBuffers(slice, perSlice.get(i), gradientLength);
      }
    }
    trainer.step();
    return null;
  }

  private Map<GroupPlan, float[]> export(List<GroupPlan> toExport) {
    Map<GroupPlan, float[]> weights = new LinkedHashMap<>();
    toExport.forEach(group -> weights.put(group, model.exportWeights(slices(group))));
    return weights;
  }

  private static List<ChannelSlice> slices(GroupPlan group) {
    return JobPlanning.channelSlices(group.slices());
  }

  // ---- one step's progress ----------------------------------------------------------------------

  /** One step's stages and what they cost; each stage runs after the previous one completed. */
  private final class Run {
    private final long step;
    /** Where this step's backward is cut, and each segment's parts of the groups. */
    private final int[] cuts;
    private final Map<Integer, List<Part>> partsBySegment;
    /** Per segment: its backward, its AllReduce payload, its longest AllReduce. */
    private final long[] segmentBackwardNanos;
    private final long[] segmentBytes;
    private final long[] segmentTransferNanos;
    private float loss = Float.NaN;
    private long computeNanos;
    private long allReduceNanos;
    private long broadcastNanos;
    private long collectiveWallNanos;
    private long allReduceBytes;
    private long broadcastBytes;
    /** The AllReduces started and not yet collected, in the order they were started. */
    private final List<Part> parts = new ArrayList<>();
    private final List<Integer> partSegments = new ArrayList<>();
    private final List<CompletableFuture<Collectives.Transfer>> transfers = new ArrayList<>();
    private final Map<GroupPlan, Integer> startedPerGroup = new HashMap<>();
    /** Per compressed group, the end of its last part's exchange: the next part's starts after it. */
    private final Map<GroupPlan, CompletionStage<Void>> groupTails = new HashMap<>();
    /** Each group's own collective time, by kind: its AllReduce parts summed, its refresh Broadcast. */
    private final Map<List<String>, Long> groupNanos = new TreeMap<>(
        java.util.Comparator.comparing((List<String> k) -> k.get(0)).thenComparing(k -> k.get(1)));

    Run(long step, int[] cuts) {
      this.step = step;
      this.cuts = cuts;
      this.partsBySegment = partsBySegment(cuts);
      this.segmentBackwardNanos = new long[cuts.length + 1];
      this.segmentBytes = new long[cuts.length + 1];
      this.segmentTransferNanos = new long[cuts.length + 1];
    }

    /**
     * The model thread as an executor, for the continuations of a tile group's step: each runs as
     * model work of stage {@code stage} and counts in the step's compute time. Unlike
     * {@link #compute}, it runs them after a cancel too, so that the step's chain ends and frees its
     * tensors: the next exchange fails, as the abandoned job's process groups are stopped.
     */
    Executor modelThread(String stage) {
      return work -> compute.submit(stage, () -> {
        long start = System.nanoTime();
        work.run();
        computeNanos += System.nanoTime() - start;
        return null;
      });
    }

    <T> CompletionStage<T> compute(String stage, Callable<T> work) {
      long start = System.nanoTime();
      return compute.submit(stage, () -> {
        if (cancelled) {
          throw new java.util.concurrent.CancellationException("the step was abandoned");
        }
        return work.call();
      }).handle((value, error) -> {
        if (error != null) {
          throw new StageFailure(stage + " failed: " + message(error), error);
        }
        computeNanos += System.nanoTime() - start;
        return value;
      });
    }

    /**
     * Starts the AllReduce of {@code part}'s payload, of backward segment {@code segment} (-1: none);
     * members start a group's in the same order.
     */
    void allReduce(Part part, Payload payload, int segment) {
      int k = startedPerGroup.merge(part.group(), 1, Integer::sum) - 1;
      noteSent(4L * payload.floats().length, segment);
      parts.add(part);
      partSegments.add(segment);
      transfers.add(collectives.allReduce(DeviceGroups.allReduceId(spec.jobId(), part.group()),
          step * COLLECTIVES_PER_STEP + k, payload.floats(), payload.partLengths()).toCompletableFuture());
    }

    /**
     * Starts the compressed exchange of {@code part} ({@link CompressedGradients}): after the
     * group's previous part's, so that the group's collectives are asked for in sequence order.
     */
    void exchangeCompressed(Part part, int offset, int[][] sliceLengths, float[] partGradients, float[] partBuffers,
        int segment) {
      int k = startedPerGroup.merge(part.group(), CompressedGradients.COLLECTIVES_PER_PART, Integer::sum)
          - CompressedGradients.COLLECTIVES_PER_PART;
      long sequence = step * COLLECTIVES_PER_STEP + k;
      String id = DeviceGroups.allReduceId(spec.jobId(), part.group());
      CompletableFuture<Collectives.Transfer> exchanged = groupTails.getOrDefault(part.group(), done())
          .thenCompose(previous -> compressed.exchange(collectives, id, sequence, part.group(), step, offset,
              partGradients, partBuffers))
          .thenApply(result -> {
            noteSent(4L * result.sentFloats(), segment);
            return new Collectives.Transfer(asPayload(part, sliceLengths, result.gradients(), result.buffers()),
                result.transferNanos());
          }).toCompletableFuture();
      groupTails.put(part.group(), exchanged.thenApply(transfer -> null));
      parts.add(part);
      partSegments.add(segment);
      transfers.add(exchanged);
    }

    private synchronized void noteSent(long bytes, int segment) {
      allReduceBytes += bytes;
      if (segment >= 0) {
        segmentBytes[segment] += bytes;
      }
    }

    /** The started AllReduces' results once all are in. */
    CompletionStage<List<Reduced>> allReduced() {
      List<Part> waitingFor = List.copyOf(parts);
      List<Integer> segments = List.copyOf(partSegments);
      List<CompletableFuture<Collectives.Transfer>> pending = List.copyOf(transfers);
      parts.clear();
      partSegments.clear();
      transfers.clear();
      startedPerGroup.clear();
      groupTails.clear();
      long start = System.nanoTime();
      return CompletableFuture.allOf(pending.toArray(new CompletableFuture[0])).thenApply(all -> {
        collectiveWallNanos += System.nanoTime() - start;
        List<Reduced> results = new ArrayList<>();
        // Groups run at once, a group's parts one after another.
        Map<GroupPlan, Long> perGroup = new HashMap<>();
        for (int i = 0; i < waitingFor.size(); i++) {
          Collectives.Transfer transfer = pending.get(i).join();
          results.add(new Reduced(waitingFor.get(i), transfer.result()));
          perGroup.merge(waitingFor.get(i).group(), transfer.transferNanos(), Long::sum);
          int segment = segments.get(i);
          if (segment >= 0) {
            segmentTransferNanos[segment] = Math.max(segmentTransferNanos[segment], transfer.transferNanos());
          }
        }
        allReduceNanos += perGroup.values().stream().mapToLong(Long::longValue).max().orElse(0);
        perGroup.forEach((group, nanos) -> groupNanos.merge(List.of(group.groupId(), WireBytes.ALL_REDUCE), nanos,
            Long::sum));
        return results;
      });
    }

    /** One Broadcast per refreshed group, all at once: this device sends the {@code led} ones. */
    CompletionStage<Map<GroupPlan, float[]>> broadcast(Map<GroupPlan, float[]> led) {
      Map<GroupPlan, CompletableFuture<Collectives.Transfer>> started = new LinkedHashMap<>();
      for (GroupPlan group : groups.refresh()) {
        float[] weights = led.get(group);
        int length = weights != null ? weights.length : model.weightLength(slices(group));
        broadcastBytes += 4L * length;
        started.put(group, collectives.broadcast(DeviceGroups.refreshId(spec.jobId(), group), step, weights, length)
            .toCompletableFuture());
      }
      long start = System.nanoTime();
      return CompletableFuture.allOf(started.values().toArray(new CompletableFuture[0])).thenApply(all -> {
        collectiveWallNanos += System.nanoTime() - start;
        Map<GroupPlan, float[]> received = new LinkedHashMap<>();
        long longest = 0;
        for (var entry : started.entrySet()) {
          Collectives.Transfer transfer = entry.getValue().join();
          if (!led.containsKey(entry.getKey())) {
            received.put(entry.getKey(), transfer.result());
          }
          longest = Math.max(longest, transfer.transferNanos());
          groupNanos.merge(List.of(entry.getKey().groupId(), entry.getKey().isAllReduce() ? WireBytes.REFRESH
              : WireBytes.BROADCAST), transfer.transferNanos(), Long::sum);
        }
        broadcastNanos += longest;
        return received;
      });
    }

    Result result(Map<String, float[]> keptShardWeights) {
      double[] backwardMillis = new double[segmentBytes.length];
      double[] transferMillis = new double[segmentBytes.length];
      for (int s = 0; s < segmentBytes.length; s++) {
        backwardMillis[s] = segmentBackwardNanos[s] / 1e6;
        transferMillis[s] = segmentTransferNanos[s] / 1e6;
      }
      return new Result(loss, computeNanos, allReduceNanos, broadcastNanos, collectiveWallNanos, allReduceBytes,
          broadcastBytes, keptShardWeights, new StepMetrics.Segments(Arrays.stream(cuts).boxed().toList(),
              backwardMillis, segmentBytes.clone(), transferMillis),
          groupNanos.entrySet().stream().map(e -> new StepMetrics.GroupTime(e.getKey().get(0), e.getKey().get(1),
              e.getValue() / 1e6)).toList());
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
