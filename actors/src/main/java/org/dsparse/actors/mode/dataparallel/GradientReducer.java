package org.dsparse.actors.mode.dataparallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.core.collective.MemberParts;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * One device's gradient communication in a data-parallel step, apart from the step's pipeline as
 * DDP's Reducer is apart from its trainer: which part of each group a backward segment finishes,
 * the payload of a part (its slices' gradients and BatchNorm statistics, cut into one piece per
 * member), starting each part's AllReduce (or its compressed exchange, {@link CompressedGradients})
 * as the backward hands it over, collecting the averaged parts, and putting them back into the
 * trainer. A step's communication lives in its own {@link Round}.
 *
 * <p>Gradient payloads are laid out by {@link MemberParts}, each slice's floats (its gradients, then
 * its BatchNorm statistics) cut into one piece per member of the group: the ring then sums an element
 * in the same order whether the backward is cut or not (overlap changes no float), and stays
 * balanced. Parts are AllReduced in the order the backward finishes them, the same on every member.
 */
final class GradientReducer {
  /**
   * Collectives a group may run per step (a part of a compressed group takes two): sequence numbers
   * are {@code step * this + k}.
   */
  private static final int COLLECTIVES_PER_STEP = (JobSpec.MAX_OVERLAP_SEGMENTS + 1)
      * CompressedGradients.COLLECTIVES_PER_PART;

  private final String jobId;
  private final LayeredModel model;
  private final SparseTrainer trainer;
  private final DeviceGroups groups;
  private final Collectives collectives;
  /** The groups whose gradients compress, and their residuals. */
  private final CompressedGradients compressed;

  GradientReducer(JobSpec spec, LayeredModel model, SparseTrainer trainer, DeviceGroups groups,
      Collectives collectives) {
    this.jobId = spec.jobId();
    this.model = model;
    this.trainer = trainer;
    this.groups = groups;
    this.collectives = collectives;
    this.compressed = new CompressedGradients(spec, groups.device(), groups.allReduce(),
        group -> trainer.gradientLength(Plans.channelSlices(group.slices())));
  }

  /** Groups the job's compression leaves dense on this device, and why. */
  Map<String, String> denseGroups() {
    return compressed.denseGroups();
  }

  /** A group's slices within one segment of the backward (the whole group without overlap). */
  record Part(GroupPlan group, List<ChannelSlice> slices) {
    static Part whole(GroupPlan group) {
      return new Part(group, Plans.channelSlices(group.slices()));
    }
  }

  /**
   * A part's payload, laid out by {@link MemberParts}.
   *
   * @param partLengths the member parts' lengths; empty: parts of equal length
   */
  record Payload(float[] floats, int[] partLengths) {}

  /** A part's averaged payload. */
  record Reduced(Part part, float[] payload) {}

  /** Each segment's parts of the groups, for a backward cut at {@code cuts}. */
  private Map<Integer, List<Part>> partsBySegment(int[] cuts) {
    Map<Integer, List<Part>> parts = new HashMap<>();
    for (GroupPlan group : groups.allReduce()) {
      Map<Integer, List<ChannelSlice>> bySegment = new TreeMap<>();
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
    return Plans.channelSlices(group.slices()).stream()
        .sorted(Comparator.comparingInt(ChannelSlice::layer).thenComparingInt(ChannelSlice::from)).toList();
  }

  /** The segment holding layer {@code layer}: the number of cuts at or below it. */
  private static int segmentOf(int[] cuts, int layer) {
    int segment = 0;
    while (segment < cuts.length && cuts[segment] <= layer) {
      segment++;
    }
    return segment;
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

  /** Takes the averaged gradient payloads back into the trainer (and the statistics into the model). */
  void apply(List<Reduced> averaged) {
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
  }

  /** Step {@code step}'s communication, its backward cut at {@code cuts}. */
  Round round(long step, int[] cuts) {
    return new Round(step, cuts);
  }

  /** One step's AllReduces: those started and not yet collected, and what they cost. */
  final class Round {
    private final long step;
    final int[] cuts;
    private final Map<Integer, List<Part>> partsBySegment;
    /** Per segment: its backward, its AllReduce payload, its longest AllReduce. */
    final long[] segmentBackwardNanos;
    final long[] segmentBytes;
    final long[] segmentTransferNanos;
    long allReduceNanos;
    long allReduceBytes;
    long waitedNanos;
    /** Each group's AllReduce parts' own time, summed. */
    final Map<String, Long> groupNanos = new TreeMap<>();
    private final List<Part> parts = new ArrayList<>();
    private final List<Integer> partSegments = new ArrayList<>();
    private final List<CompletableFuture<Collectives.Transfer>> transfers = new ArrayList<>();
    private final Map<GroupPlan, Integer> startedPerGroup = new HashMap<>();
    /** Per compressed group, the end of its last part's exchange: the next part's starts after it. */
    private final Map<GroupPlan, CompletionStage<Void>> groupTails = new HashMap<>();

    private Round(long step, int[] cuts) {
      this.step = step;
      this.cuts = cuts;
      this.partsBySegment = partsBySegment(cuts);
      this.segmentBackwardNanos = new long[cuts.length + 1];
      this.segmentBytes = new long[cuts.length + 1];
      this.segmentTransferNanos = new long[cuts.length + 1];
    }

    /**
     * Hears each backward segment finish: when {@code reduceGradients}, starts its parts' exchanges,
     * and keeps its time.
     */
    SparseTrainer.SegmentDone segmentsDone(boolean reduceGradients) {
      long[] lastDone = new long[1];
      return (segment, backwardNanos) -> {
        long entered = System.nanoTime();
        if (reduceGradients) {
          for (Part part : partsBySegment.getOrDefault(segment, List.of())) {
            if (compressed.compresses(part.group())) {
              exchangeCompressed(part, segment);
            } else {
              allReduce(part, gradients(part), segment);
            }
          }
        }
        // Segments finish from the top down; a segment's time ends after its gradients' hand-over.
        long handedOver = backwardNanos + System.nanoTime() - entered;
        segmentBackwardNanos[segment] = handedOver - lastDone[0];
        lastDone[0] = handedOver;
      };
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
      transfers.add(collectives.allReduce(DeviceGroups.allReduceId(jobId, part.group()),
          step * COLLECTIVES_PER_STEP + k, payload.floats(), payload.partLengths()).toCompletableFuture());
    }

    /**
     * Starts the compressed exchange of {@code part} ({@link CompressedGradients}): after the
     * group's previous part's, so that the group's collectives are asked for in sequence order.
     */
    private void exchangeCompressed(Part part, int segment) {
      int offset = gradientOffset(part);
      int[][] sliceLengths = sliceLengths(part);
      float[] partGradients = trainer.exportGradients(part.slices());
      float[] partBuffers = buffers(part.slices());
      int k = startedPerGroup.merge(part.group(), CompressedGradients.COLLECTIVES_PER_PART, Integer::sum)
          - CompressedGradients.COLLECTIVES_PER_PART;
      long sequence = step * COLLECTIVES_PER_STEP + k;
      String id = DeviceGroups.allReduceId(jobId, part.group());
      CompletableFuture<Collectives.Transfer> exchanged = groupTails.getOrDefault(part.group(),
              CompletableFuture.completedFuture(null))
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
    CompletionStage<List<Reduced>> collected() {
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
        waitedNanos += System.nanoTime() - start;
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
        perGroup.forEach((group, nanos) -> groupNanos.merge(group.groupId(), nanos, Long::sum));
        return results;
      });
    }
  }
}
