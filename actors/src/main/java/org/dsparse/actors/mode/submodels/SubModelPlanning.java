package org.dsparse.actors.mode.submodels;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.dsparse.actors.plan.ClassPartitions;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.cli.Table;
import org.dsparse.core.data.ClassPartition;
import org.dsparse.core.data.EpochOrder;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Partitioner;
import org.dsparse.core.data.Split;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.SubModelRole;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageBatch;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.submodel.SubModelSizing;
import org.dsparse.training.submodel.SubModels;

/**
 * The plan of a job of sub-models (Chen and Qin 2020): each device's classes (the job's class
 * partition), each filter's relevance to each class measured on the model the job starts from, and
 * for each device the sub-model of the filters most relevant to its classes, as large as its memory
 * budget and the job's share of the full model's computation allow. One process group of every
 * device assembles the sub-models into the global model.
 */
final class SubModelPlanning {
  /** The plan's group: every device, the whole global model. */
  static final String GROUP_ID = "assembly";

  private SubModelPlanning() {}

  static PlannedJob plan(JobSpec spec, List<DeviceInfo> devices, LayeredModel model, MemoryModel memory,
      DataSource source) throws IOException {
    if (!Models.hasNarrowForm(model.name())) {
      throw new IllegalArgumentException("mode submodels needs a plain CNN (small-cnn), not " + model.name());
    }
    ImageSet train = source.load(Split.TRAIN);
    double[][][] relevance = relevance(spec, model, source, train);
    ClassPartition partition = ClassPartitions.of(spec, train.classes(), devices.size());
    OptimizerKind optimizer = OptimizerKind.parse(spec.optimizer());
    List<GroupPlan.Slice> all = IntStream.range(0, model.layerCount())
        .mapToObj(l -> GroupPlan.Slice.whole(l, model.layer(l).outputChannels())).toList();
    Map<String, Assignment> assignments = new LinkedHashMap<>();
    Table table = new Table("device", "budget MiB", "classes", "filters kept", "multiply-adds (derived)",
        "predicted MiB");
    for (int d = 0; d < devices.size(); d++) {
      DeviceInfo device = devices.get(d);
      int[] classes = partition.held().get(d);
      SubModelSizing.Sized sized;
      try {
        sized = SubModelSizing.size(model, relevance, classes, device.budgetBytes(),
            spec.subModels().computeShare(), memory, spec.batch(), optimizer);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("device " + device.name() + ": " + e.getMessage());
      }
      List<List<Integer>> filters = Arrays.stream(sized.spec().filters())
          .map(f -> Arrays.stream(f).boxed().toList()).toList();
      assignments.put(device.name(), new Assignment(device.name(), all, sized.predictedPeakBytes(), null,
          new SubModelRole(filters, Arrays.stream(classes).boxed().toList())));
      table.row(device.name(), Table.mib(device.budgetBytes()), Arrays.toString(classes),
          Arrays.toString(sized.spec().widths()) + String.format(Locale.ROOT, " (%.0f%%)", 100 * sized.keep()),
          String.format(Locale.ROOT, "%.0f%% of the full model's", 100 * sized.computeShare()),
          Table.mib(sized.predictedPeakBytes()));
    }
    List<String> names = devices.stream().map(DeviceInfo::name).toList();
    GroupPlan assembly = new GroupPlan(GROUP_ID, all, names, names.get(0),
        4L * model.weightLength(IntStream.range(0, model.layerCount()).toArray()), spec.jobId() + "." + GROUP_ID);
    List<String> layerNames = model.layers().stream().map(l -> l.name()).toList();
    return new PlannedJob(assignments, List.of(assembly), layerNames, memory.fullUpdateBytes(spec.batch(), optimizer),
        String.format(Locale.ROOT, "sub-models (Chen and Qin): each device trains the filters most relevant to its"
            + " classes (mean activation on %d training images), at most %.0f%% of the full model's computation;"
            + " assembled by one AllReduce of %d devices every %d steps and at each epoch's end%n",
            relevancePool(spec, train).length, 100 * spec.subModels().computeShare(), devices.size(),
            spec.averagingInterval()) + table);
  }

  /** The images relevance is measured on: the held-out share when the job holds one out, else the job's. */
  private static int[] relevancePool(JobSpec spec, ImageSet train) {
    int[][] split = Partitioner.holdOut(train.size(), spec.heldOutFraction(), spec.seed());
    int[] pool = split[0].length > 0 ? split[0] : split[1];
    int[] order = EpochOrder.permutation(pool.length, spec.seed(), 0);
    int count = Math.min(spec.subModels().relevanceSamples(), pool.length);
    int[] picked = new int[count];
    for (int i = 0; i < count; i++) {
      picked[i] = pool[order[i]];
    }
    return picked;
  }

  private static double[][][] relevance(JobSpec spec, LayeredModel model, DataSource source, ImageSet train) {
    ImageSet images = train.subset(relevancePool(spec, train));
    ImageSetDataset data = ImageSetDataset.builder().setImageSet(images).optNormalization(source.normalization())
        .optUpsample(spec.upsample()).setSeededSampling(spec.batch(), spec.seed()).build();
    try (NDManager scratch = model.manager().newSubManager();
        ImageBatch batch = data.batchOf(scratch, IntStream.range(0, images.size()).toArray())) {
      return SubModels.relevance(model, batch.images(), images.labels());
    }
  }
}
