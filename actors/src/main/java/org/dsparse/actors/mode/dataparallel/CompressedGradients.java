package org.dsparse.actors.mode.dataparallel;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.ToIntFunction;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.plan.Plans;
import org.dsparse.core.compression.Compression;
import org.dsparse.core.compression.CountSketch;
import org.dsparse.core.compression.ErrorFeedback;
import org.dsparse.core.compression.SketchedGradients;
import org.dsparse.core.compression.TopKGradients;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;

/**
 * One device's compressed gradient exchange ({@code dsparse.job.compression}): for each group it
 * AllReduces with others, whether its gradients compress at the job's settings (a group below
 * {@code min-floats}, or one the settings cannot bring to the ratio, travels dense and
 * {@link #denseGroups} says why; the overlap segments of a group that compresses all compress),
 * and for those that do, the compressor and its error-feedback residual, and the exchange of one
 * part of the group's gradient through the group's collectives: gs-SGD's AllReduce of the sketch
 * then of the recovered coordinates' values, or Top-k's AllGather of (index, value) pairs. BatchNorm
 * statistics ride along dense (they are averaged, never compressed), in the first AllReduce of a
 * sketch and in an AllReduce of their own after Top-k's AllGather.
 *
 * <p>Sketching, recovery and selection scan the whole part, so they run on the common pool, not on
 * the model thread nor on a collective's. A group's parts go one after another (the group's
 * collectives take increasing sequence numbers in the order they are asked for, and a sketch's
 * second round depends on its first), in the order the backward finishes them, the same on every
 * member.
 *
 * <p>The residual lives as long as the job's plan: a re-plan changes what each group's vector is.
 */
final class CompressedGradients {
  /** Collectives one part of a compressed group takes: two rounds. */
  static final int COLLECTIVES_PER_PART = 2;

  private final Compression settings;
  private final long seed;
  private final String self;
  /** Group id to its compressor ({@link SketchedGradients} or {@link TopKGradients}), for compressed groups. */
  private final Map<String, Object> compressors = new LinkedHashMap<>();
  private final Map<String, String> denseBecause = new LinkedHashMap<>();
  private final Executor work = ForkJoinPool.commonPool();

  /**
   * @param gradientLength a group's gradient floats on this device (the whole group, every slice)
   */
  CompressedGradients(JobSpec spec, String self, List<GroupPlan> allReduce, ToIntFunction<GroupPlan> gradientLength) {
    this.settings = Plans.compression(spec);
    this.seed = spec.seed();
    this.self = self;
    for (GroupPlan group : allReduce) {
      int dimension = gradientLength.applyAsInt(group);
      int members = group.updaters().size();
      Compression.Sizes sizes = settings.plan(dimension, members);
      if (!sizes.compressed()) {
        if (settings.enabled()) {
          denseBecause.put(group.groupId(), sizes.denseBecause());
        }
        continue;
      }
      Compression parts = settings.forParts();
      compressors.put(group.groupId(), settings.kind() == Compression.Kind.SKETCH
          ? new SketchedGradients(dimension, parts, members) : new TopKGradients(dimension, parts, members));
    }
  }

  boolean compresses(GroupPlan group) {
    return compressors.containsKey(group.groupId());
  }

  /** Groups the job would compress that travel dense, and why (the settings cannot reach the ratio). */
  Map<String, String> denseGroups() {
    return Map.copyOf(denseBecause);
  }

  /**
   * A part's averaged gradients and BatchNorm statistics.
   *
   * @param transferNanos its collectives' own time, summed
   * @param sentFloats floats this member contributed to them
   */
  record Exchanged(float[] gradients, float[] buffers, long transferNanos, long sentFloats) {}

  /**
   * Exchanges one part of {@code group}'s gradients, {@code gradients} at {@code offset} in the
   * group's vector, with its {@code buffers}, in the collectives {@code firstSequence} and the one
   * after it of collective {@code collectiveId}.
   */
  CompletionStage<Exchanged> exchange(Collectives collectives, String collectiveId, long firstSequence,
      GroupPlan group, long step, int offset, float[] gradients, float[] buffers) {
    Object compressor = compressors.get(group.groupId());
    long partSeed = CountSketch.mix(seed ^ CountSketch.mix(
        step * 0x9E3779B97F4A7C15L + offset) ^ group.groupId().hashCode());
    if (compressor instanceof SketchedGradients sketch) {
      return sketched(collectives, collectiveId, firstSequence, sketch, partSeed, offset, gradients, buffers);
    }
    if (compressor instanceof TopKGradients topK) {
      return topK(collectives, collectiveId, firstSequence, topK, group, offset, gradients, buffers);
    }
    throw new IllegalArgumentException("group " + group.groupId() + " does not compress");
  }

  private CompletionStage<Exchanged> sketched(Collectives collectives, String id, long sequence,
      SketchedGradients sketch, long partSeed, int offset, float[] gradients, float[] buffers) {
    int length = gradients.length;
    Compression.Sizes sizes = sketch.sizes(length);
    if (!sizes.compressed()) {
      return dense(collectives, id, sequence, sketch.residual(), offset, gradients, buffers);
    }
    return CompletableFuture.supplyAsync(() -> concat(sketch.sketch(offset, gradients, sizes, partSeed), buffers), work)
        .thenCompose(first -> collectives.allReduce(id, sequence, first, new int[0]))
        .thenComposeAsync(first -> {
          int tableLength = sizes.rows() * sizes.columns();
          float[] table = Arrays.copyOf(first.result(), tableLength);
          float[] averagedBuffers = Arrays.copyOfRange(first.result(), tableLength, first.result().length);
          int[] candidates = sketch.candidates(offset, length, table, sizes, partSeed);
          float[] values = sketch.values(candidates);
          return collectives.allReduce(id, sequence + 1, values, new int[0]).thenApply(second -> new Exchanged(
              SketchedGradients.expand(offset, length, candidates, second.result()), averagedBuffers,
              first.transferNanos() + second.transferNanos(), (long) tableLength + buffers.length + values.length));
        }, work);
  }

  private CompletionStage<Exchanged> topK(Collectives collectives, String id, long sequence, TopKGradients topK,
      GroupPlan group, int offset, float[] gradients, float[] buffers) {
    int length = gradients.length;
    Compression.Sizes sizes = topK.sizes(length);
    if (!sizes.compressed()) {
      return dense(collectives, id, sequence, topK.residual(), offset, gradients, buffers);
    }
    int members = group.updaters().size();
    int rank = group.updaters().indexOf(self);
    int k = sizes.k();
    return CompletableFuture.supplyAsync(() -> {
      float[] gathered = new float[members * 2 * k];
      System.arraycopy(topK.select(offset, gradients, sizes), 0, gathered, rank * 2 * k, 2 * k);
      return gathered;
    }, work).thenCompose(gathered -> collectives.allGather(id, sequence, gathered))
        .thenCompose(gathered -> (buffers.length == 0
            ? CompletableFuture.completedFuture(new Collectives.Transfer(buffers, 0))
            : collectives.allReduce(id, sequence + 1, buffers, new int[0]))
            .thenApplyAsync(averaged -> new Exchanged(TopKGradients.expand(length, gathered.result(), members, k),
                averaged.result(), gathered.transferNanos() + averaged.transferNanos(), 2L * k + buffers.length), work));
  }

  /**
   * A part the settings cannot bring to the ratio (a segment of a few floats, where not even one
   * coordinate fits): its gradients plus what its residual held travel dense, and the residual is
   * emptied there (all of it was sent).
   */
  private CompletionStage<Exchanged> dense(Collectives collectives, String id, long sequence, ErrorFeedback residual,
      int offset, float[] gradients, float[] buffers) {
    residual.add(gradients, 0, offset, gradients.length);
    int[] all = new int[gradients.length];
    Arrays.setAll(all, i -> offset + i);
    float[] payload = concat(residual.takeSent(all), buffers);
    return collectives.allReduce(id, sequence, payload, new int[0]).thenApply(t -> new Exchanged(
        Arrays.copyOf(t.result(), gradients.length), Arrays.copyOfRange(t.result(), gradients.length, payload.length),
        t.transferNanos(), payload.length));
  }

  private static float[] concat(float[] a, float[] b) {
    float[] both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }
}
