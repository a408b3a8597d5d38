package org.dsparse.actors.mode.submodels;

import java.io.IOException;
import java.util.List;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceSetUp;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Preparation;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.SubModelRole;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.submodel.SubModels;
import org.dsparse.training.trainer.DjlThread;
import org.dsparse.training.trainer.OptimizerSpec;
import org.dsparse.training.trainer.SparseTrainer;

/**
 * A device's side of a job of sub-models: the global model (which it evaluates and saves), its
 * sub-model, trained on its classes' images, and a trainer of the global model's classifier for the
 * calibration; its step is a {@link SubModelStep}.
 */
final class SubModelRuntime extends ModeRuntime {
  private final SubModelSpec subSpec;
  private final LayeredModel sub;
  private final SparseTrainer calibrator;
  /** The device's images labelled by their class in the global model. */
  private final ImageSetDataset own;

  private SubModelRuntime(JobSpec spec, LayeredModel global, SubModelSpec subSpec, LayeredModel sub,
      SparseTrainer trainer, SparseTrainer calibrator, ImageSetDataset train, ImageSetDataset own,
      ImageSetDataset test, long baselineRss, Position start) {
    super(spec, global, trainer, train, test, baselineRss, start);
    this.subSpec = subSpec;
    this.sub = sub;
    this.calibrator = calibrator;
    this.own = own;
  }

  /**
   * The device's sub-model, cut from the global model as the job stands. Its optimizer state starts
   * again after a re-plan (the partition, and so its sub-model, may have changed) and on resuming (a
   * checkpoint holds the assembled global model alone; the plan, made from the initial checkpoint, is
   * the same, and so is the sub-model).
   */
  static SubModelRuntime prepare(Preparation p) throws IOException {
    DjlThread.checkCurrent();
    JobSpec spec = p.spec();
    SubModelRole role = p.assignment().subModel();
    DeviceSetUp.Data data = DeviceSetUp.load(p, new int[] {p.rank()});
    // A sub-model outputs its classes only: its images are labelled by their place among them.
    ImageSetDataset train = data.train(spec, data.shard().ofClasses(role.classArray()));
    if (p.measureMemory() && p.restored() == null) {
      warmUp(spec, train, role);
    }
    long baseline = DeviceSetUp.baseline(p.measureMemory());
    DeviceSetUp.Start start = DeviceSetUp.model(p, train, data.classes());
    LayeredModel model = start.model();
    try {
      OptimizerSpec optimizer = DeviceSetUp.optimizer(spec);
      SubModelSpec subSpec = new SubModelSpec(role.filterArrays(), role.classArray());
      LayeredModel sub = SubModels.extract(model, subSpec, spec.seed());
      SparseTrainer calibrator = new SparseTrainer(model, model.wholeLayers(new int[] {model.layerCount() - 1}),
          optimizer, spec.frozenPrefixMicroBatch());
      SparseTrainer trainer = new SparseTrainer(sub, UpdateSet.all(sub.layerCount()), optimizer);
      return new SubModelRuntime(spec, model, subSpec, sub, trainer, calibrator, train,
          data.train(spec, data.shard()), data.test(), baseline, start.start());
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** The warm-up ({@link DeviceSetUp#warmUp}) on the sub-model's own network: what the device trains. */
  private static void warmUp(JobSpec spec, ImageSetDataset train, SubModelRole role) {
    int[] widths = role.filters().stream().mapToInt(List::size).toArray();
    try (LayeredModel narrow = Models.narrow(spec.model(), train.imageShape(), widths, role.classes().size(),
        spec.seed())) {
      DeviceSetUp.warmUp(narrow, new SparseTrainer(narrow, UpdateSet.all(narrow.layerCount()),
          OptimizerSpec.sgd(spec.learningRate())), spec, train, null);
    }
  }

  @Override
  public DeviceStep pipeline(DeviceGroups groups, Collectives collectives, Compute compute) {
    return new SubModelStep(spec, model, sub, subSpec, trainer, calibrator, train, own, groups, collectives, compute,
        start.epoch(), start.batch());
  }

  /** The calibrated global model's classifier evaluates it. */
  @Override
  protected SparseTrainer evaluator() {
    return calibrator;
  }

  /** None of the global model's: the device's optimizer is its sub-model's. */
  @Override
  protected List<Checkpoint.SliceState> optimizerState() {
    return List.of();
  }

  @Override
  public void close() {
    DjlThread.checkCurrent();
    sub.close();
    super.close();
  }
}
