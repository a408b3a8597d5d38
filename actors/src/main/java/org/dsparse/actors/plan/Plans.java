package org.dsparse.actors.plan;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.dsparse.core.collective.DynamicDecomposition;
import org.dsparse.core.collective.OverlapCuts;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.core.compression.Compression;
import org.dsparse.core.compression.RefreshCodec;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;

/**
 * What every training mode's plan is made of, whatever the mode: process groups, the job's
 * compression and overlap, learning-rate scales and data shards. No mode is named here; a mode
 * passes in what differs (whether it overlaps, which groups learn from one batch a step).
 */
public final class Plans {
  private Plans() {}

  /** A process group of {@code updaters}, led by the first, with its weights' size. */
  public static GroupPlan group(JobSpec spec, String id, List<GroupPlan.Slice> slices, List<String> updaters,
      LayeredModel model) {
    long bytes = 4L * model.weightLength(channelSlices(slices));
    return new GroupPlan(id, slices, updaters, updaters.get(0), bytes, spec.jobId() + "." + id);
  }

  /** A plan's slices as the trainer takes them. */
  public static List<ChannelSlice> channelSlices(List<GroupPlan.Slice> slices) {
    return slices.stream().map(s -> new ChannelSlice(s.layer(), s.from(), s.to())).toList();
  }

  public static List<String> layerNames(LayeredModel model) {
    return model.layers().stream().map(l -> l.name()).toList();
  }

  /** The core's compression settings for the job's. */
  public static Compression compression(JobSpec spec) {
    JobSpec.Compression job = spec.compression();
    return switch (job.kind()) {
      case "topk" -> new Compression(Compression.Kind.TOPK, job.ratio(), job.rows(), job.columns(), job.minFloats(),
          job.valuesShare());
      case "sketch" -> new Compression(Compression.Kind.SKETCH, job.ratio(), job.rows(), job.columns(), job.minFloats(),
          job.valuesShare());
      default -> Compression.NONE;
    };
  }

  /**
   * The micro-batch the planner plans the updated layers with: the job's, or with
   * {@code update-micro-batch = auto} the smallest a device may run (each device then runs the largest
   * that fits it, {@code DataParallelPlanning}).
   */
  public static int plannedUpdateMicroBatch(JobSpec spec) {
    return spec.updateMicroBatch() == JobSpec.AUTO_MICRO_BATCH ? JobSpec.SMALLEST_MICRO_BATCH : spec.updateMicroBatch();
  }

  /** The core's settings of the job's compressed refreshes; empty when every refresh is exact. */
  public static java.util.Optional<RefreshCodec.Settings> refreshCompression(JobSpec spec) {
    JobSpec.RefreshCompression job = spec.refreshCompression();
    return job.enabled() ? java.util.Optional.of(new RefreshCodec.Settings(RefreshCodec.Kind.parse(job.kind()),
        job.ratio(), job.bits())) : java.util.Optional.empty();
  }

  /**
   * A refresh's bytes over the dense weights', on average: of every {@code exact-every} refreshes one
   * is exact and the others compressed.
   */
  public static double refreshShare(JobSpec spec) {
    int exactEvery = spec.refreshCompression().exactEvery();
    return refreshCompression(spec).map(s -> ((exactEvery - 1) * Math.min(1, s.share()) + 1) / exactEvery)
        .orElse(1.0);
  }

  /**
   * What compression does to each AllReduce group: its compressor's sizes and the bytes each member
   * sends against the dense ring's, or why it stays dense.
   */
  static String compressionDescription(JobSpec spec, List<GroupPlan> groups, LayeredModel model) {
    Compression compression = compression(spec);
    if (!compression.enabled()) {
      return "";
    }
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "compression: %s at %.0fx%n",
        spec.compression().kind(), compression.ratio()));
    for (GroupPlan group : groups) {
      if (!group.isAllReduce()) {
        continue;
      }
      int dimension = model.trainableLength(channelSlices(group.slices()));
      int members = group.updaters().size();
      Compression.Sizes sizes = compression.plan(dimension, members);
      double dense = Compression.NONE.plan(dimension, members).floatsSentPerMember(dimension, members);
      out.append(sizes.compressed()
          ? String.format(Locale.ROOT, "  %s: %d gradient floats, %s, %.2f MB sent per member and step instead of"
              + " %.2f MB%n", group.groupId(), dimension, sizes.kind() == Compression.Kind.SKETCH
              ? String.format(Locale.ROOT, "a %d x %d sketch then %d values", sizes.rows(), sizes.columns(), sizes.k())
              : String.format(Locale.ROOT, "%d pairs per member", sizes.k()),
              4 * sizes.floatsSentPerMember(dimension, members) / 1e6, 4 * dense / 1e6)
          : String.format(Locale.ROOT, "  %s: dense (%s)%n", group.groupId(), sizes.denseBecause()));
    }
    return out.toString();
  }

  /** What compressed refreshes send of each group some of the {@code devices} receive, against its dense weights. */
  static String refreshDescription(JobSpec spec, List<GroupPlan> groups, int devices, LayeredModel model) {
    java.util.Optional<RefreshCodec.Settings> settings = refreshCompression(spec);
    if (settings.isEmpty()) {
      return "";
    }
    JobSpec.RefreshCompression job = spec.refreshCompression();
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "refreshes: %s, the change since the receivers'"
        + " copy (error feedback at the sender); every %d%s refresh, each epoch's last and each evaluated step's"
        + " exact, committing the step; copies checked every %d compressed refreshes; %.1f%% of the dense bytes on"
        + " average%n", job.kind().equals("topk") ? String.format(Locale.ROOT, "Top-k at %.0fx", job.ratio())
            : job.bits() + "-bit quantized", job.exactEvery(), ordinal(job.exactEvery()), job.checkEvery(),
        100 * refreshShare(spec)));
    for (GroupPlan group : groups) {
      if (group.updaters().size() >= devices) {
        continue;
      }
      int weights = model.weightLength(channelSlices(group.slices()));
      out.append(String.format(Locale.ROOT, "  %s: %.2f MB compressed instead of %.2f MB%n", group.groupId(),
          4.0 * settings.get().payloadLength(weights) / 1e6, 4.0 * weights / 1e6));
    }
    return out.toString();
  }

  private static String ordinal(int n) {
    return n % 100 >= 11 && n % 100 <= 13 ? "th" : switch (n % 10) {
      case 1 -> "st";
      case 2 -> "nd";
      case 3 -> "rd";
      default -> "th";
    };
  }

  /**
   * The plan with each device's AllReduce bytes per layer, what compression does, and what overlap
   * will do when the job's mode {@code overlaps}.
   */
  public static PlannedJob withOverlap(JobSpec spec, PlannedJob planned, LayeredModel model, boolean overlaps) {
    Map<String, long[]> bytes = new LinkedHashMap<>();
    planned.assignments().keySet().forEach(device -> bytes.put(device, new long[model.layerCount()]));
    for (GroupPlan group : planned.groups()) {
      if (group.isAllReduce()) {
        for (ChannelSlice slice : channelSlices(group.slices())) {
          long payload = 4L * (model.trainableLength(List.of(slice)) + model.bufferLength(List.of(slice)));
          group.updaters().forEach(device -> bytes.get(device)[slice.layer()] += payload);
        }
      }
    }
    String description = planned.description() + compressionDescription(spec, planned.groups(), model)
        + refreshDescription(spec, planned.groups(), planned.assignments().size(), model);
    if (overlaps) {
      JobSpec.Overlap overlap = spec.overlap();
      long total = bytes.values().stream().flatMapToLong(Arrays::stream).sum();
      description += overlap.kind() == JobSpec.Overlap.Kind.FIXED
          ? String.format(Locale.ROOT, "overlap: the backward cut before layers %s, the same every step%n",
              fixedCuts(overlap, bytes))
          : String.format(Locale.ROOT, "overlap: DynaComm's dynamic decomposition of %.2f MiB of AllReduce per step:"
              + " the backward timed layer by layer on the second step%s, then cut into at most %d segments where"
              + " the slowest device's last AllReduce is predicted to end soonest%n", total / 1048576.0,
              overlap.profileEvery() > 0 ? " and every " + overlap.profileEvery() + " steps" : "", overlap.segments());
    }
    return new PlannedJob(planned.assignments(), planned.groups(), planned.layerNames(),
        planned.fullUpdatePeakBytes(), description, bytes);
  }

  /** Where the job's devices cut the backward of each step; no cut unless its mode {@code overlaps}. */
  public static OverlapScheduler overlapScheduler(JobSpec spec, PlannedJob plan, boolean overlaps) {
    if (!overlaps) {
      return OverlapScheduler.fixed(List.of());
    }
    JobSpec.Overlap overlap = spec.overlap();
    return switch (overlap.kind()) {
      case OFF -> OverlapScheduler.fixed(List.of());
      case FIXED -> OverlapScheduler.fixed(fixedCuts(overlap, plan.allReduceBytesPerLayer()));
      case DYNAMIC -> new DynamicDecomposition(plan.allReduceBytesPerLayer(), overlap.segments(), overlap.profileEvery());
    };
  }

  /** Fixed cuts: segments of about equal AllReduce bytes, summed over the devices. */
  private static List<Integer> fixedCuts(JobSpec.Overlap overlap, Map<String, long[]> bytesPerDevice) {
    long[] summed = null;
    for (long[] bytes : bytesPerDevice.values()) {
      if (summed == null) {
        summed = new long[bytes.length];
      }
      for (int layer = 0; layer < bytes.length; layer++) {
        summed[layer] += bytes[layer];
      }
    }
    return summed == null ? List.of() : OverlapCuts.equalBytes(summed, overlap.segments());
  }

  /**
   * The learning-rate multiplier of each layer {@code device} updates, by the job's
   * {@code learning-rate-scaling} and the number of devices in the layer's group (a layer of which the
   * device holds slices in several groups takes the largest group's); layers at the plain rate are
   * left out. The groups named in {@code oneBatch} learn from one batch a step among all their
   * updaters (a tile group's), as one device's layers do.
   */
  public static Map<Integer, Double> learningRateScales(JobSpec spec, List<GroupPlan> groups, String device,
      int devices, Set<String> oneBatch) {
    Map<Integer, Integer> updaters = new TreeMap<>();
    for (GroupPlan group : groups) {
      if (!group.updaters().contains(device)) {
        continue;
      }
      int count = oneBatch.contains(group.groupId()) ? 1 : group.updaters().size();
      for (GroupPlan.Slice slice : group.slices()) {
        updaters.merge(slice.layer(), count, Math::max);
      }
    }
    Map<Integer, Double> scales = new TreeMap<>();
    updaters.forEach((layer, count) -> {
      double scale = spec.learningRateScale(count, devices);
      if (scale != 1) {
        scales.put(layer, scale);
      }
    });
    return scales;
  }

  /**
   * The ranks of the data shards read by {@code readers} (a device, or a group of devices that read
   * one batch a step from their shards joined, the first's order ruling), among the job's devices.
   */
  public static int[] dataShards(List<DeviceInfo> devices, List<String> readers) {
    List<String> names = devices.stream().map(DeviceInfo::name).toList();
    int[] shards = new int[readers.size()];
    for (int i = 0; i < shards.length; i++) {
      shards[i] = names.indexOf(readers.get(i));
      if (shards[i] < 0) {
        throw new IllegalArgumentException("device " + readers.get(i) + " of " + readers
            + " is not among the job's devices " + names);
      }
    }
    return shards;
  }
}
