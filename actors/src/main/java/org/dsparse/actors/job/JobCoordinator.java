package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.device.Device;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.trainer.DjlThread;
import org.slf4j.LoggerFactory;

/**
 * Drives one job: waits for its devices, plans, prepares every device, then runs synchronous steps
 * (each device reports each step), refreshes every weight and evaluates at each epoch end, saves a
 * checkpoint, and reports to its client. Every wait has a deadline; a miss fails the job naming the
 * devices that did not answer. Checkpoints already written stay.
 */
public final class JobCoordinator extends AbstractBehavior<JobCoordinator.Command> {

  /** Deadlines of the coordinator's waits. */
  public record Timeouts(Duration discovery, Duration prepare, Duration step, Duration evaluate) {}

  public sealed interface Command {}

  private record DevicesListed(Receptionist.Listing listing) implements Command {}

  private record FromDevice(DeviceEvent event) implements Command {}

  private record Planned(PlannedJob plan, Throwable error) implements Command {}

  /** Where sharding placed each group's LayerShard: its home device by group id. */
  private record HomesAssigned(Map<String, String> homes, Throwable error) implements Command {}

  private record DeadlinePassed(Phase phase, long token) implements Command {}

  private enum Phase { DISCOVER, DESCRIBE, PLAN, HOME, PREPARE, STEP, EVALUATE, CHECKPOINT, DONE }

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final JobSpec spec;
  private final int expectedDevices;
  private final Timeouts timeouts;
  private final Config config;
  private final ActorRef<JobEvent> client;
  private final ActorRef<DeviceEvent> replies;

  private Phase phase = Phase.DISCOVER;
  private long deadlineToken;
  private final Set<String> awaiting = new LinkedHashSet<>();
  private final Map<String, ActorRef<DeviceCommand>> discovered = new TreeMap<>();
  private final Map<String, DeviceInfo> devices = new LinkedHashMap<>();
  private PlannedJob plan;
  private int stepsPerEpoch = Integer.MAX_VALUE;
  private final Map<String, Long> baselines = new HashMap<>();

  private int epoch;
  private int stepInEpoch;
  private long step;
  private long phaseStarted;
  private long jobStarted;
  private final List<Float> stepLosses = new ArrayList<>();
  private final Map<String, DeviceTotals> totals = new LinkedHashMap<>();
  /** Each step's wall time, in order. */
  private final List<Double> stepMillisEach = new ArrayList<>();
  /** Test accuracy after given steps (every evaluate-every steps, and at epoch ends). */
  private final List<JobReport.AccuracyPoint> accuracyCurve = new ArrayList<>();
  /** Each step's aggregation critical path (its slowest device's aggregation time), in order. */
  private final List<Double> stepAggregationEach = new ArrayList<>();
  private double currentStepAggregation;
  private double epochLossSum;
  private int epochLossCount;
  private final List<Double> epochAccuracies = new ArrayList<>();
  private final List<Double> epochLosses = new ArrayList<>();
  private final List<String> checkpoints = new ArrayList<>();
  private long correct;
  private long evaluated;

  public static Behavior<Command> create(JobSpec spec, int expectedDevices, Timeouts timeouts,
      Config config, ActorRef<JobEvent> client) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new JobCoordinator(ctx, timers, spec, expectedDevices, timeouts, config, client)));
  }

  private JobCoordinator(ActorContext<Command> context, TimerScheduler<Command> timers, JobSpec spec,
      int expectedDevices, Timeouts timeouts, Config config, ActorRef<JobEvent> client) {
    super(context);
    this.context = context;
    this.timers = timers;
    this.spec = spec;
    this.expectedDevices = expectedDevices;
    this.timeouts = timeouts;
    this.config = config;
    this.client = client;
    this.replies = context.messageAdapter(DeviceEvent.class, FromDevice::new);
    context.getSystem().receptionist().tell(Receptionist.subscribe(Device.SERVICE_KEY,
        context.messageAdapter(Receptionist.Listing.class, DevicesListed::new)));
    startPhase(Phase.DISCOVER, timeouts.discovery(), Set.of());
    context.getLog().info("job {} ({}): waiting for {} devices", spec.jobId(), spec.mode(), expectedDevices);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(DevicesListed.class, this::onDevicesListed)
        .onMessage(FromDevice.class, this::onFromDevice)
        .onMessage(Planned.class, this::onPlanned)
        .onMessage(HomesAssigned.class, this::onHomesAssigned)
        .onMessage(DeadlinePassed.class, this::onDeadlinePassed)
        .build();
  }

  private void startPhase(Phase next, Duration deadline, Set<String> devicesToHear) {
    phase = next;
    awaiting.clear();
    awaiting.addAll(devicesToHear);
    deadlineToken++;
    phaseStarted = System.nanoTime();
    timers.startSingleTimer("deadline", new DeadlinePassed(next, deadlineToken), deadline);
  }

  private Behavior<Command> onDevicesListed(DevicesListed listed) {
    if (phase != Phase.DISCOVER) {
      return this;
    }
    for (ActorRef<DeviceCommand> ref : listed.listing().getServiceInstances(Device.SERVICE_KEY)) {
      discovered.put(ref.path().toString(), ref);
    }
    if (discovered.size() >= expectedDevices) {
      Set<String> paths = new LinkedHashSet<>(new ArrayList<>(discovered.keySet()).subList(0, expectedDevices));
      startPhase(Phase.DESCRIBE, timeouts.discovery(), paths);
      paths.forEach(p -> discovered.get(p).tell(new DeviceCommand.Describe(replies)));
    }
    return this;
  }

  private Behavior<Command> onFromDevice(FromDevice from) {
    DeviceEvent event = from.event();
    if (event instanceof DeviceEvent.Failed failure) {
      if (!failure.jobId().equals(spec.jobId()) && phase != Phase.DESCRIBE) {
        return this;
      }
      return fail("device " + failure.device() + ": " + failure.reason());
    }
    switch (phase) {
      case DESCRIBE -> onDescribed(event);
      case PREPARE -> onPrepared(event);
      case STEP -> onStepCompleted(event);
      case EVALUATE -> onEvaluated(event);
      case CHECKPOINT -> onCheckpointSaved(event);
      default -> { }
    }
    return this;
  }

  private void onDescribed(DeviceEvent event) {
    if (!(event instanceof DeviceEvent.Described described)) {
      return;
    }
    if (devices.containsKey(described.device())) {
      fail("two devices are named " + described.device() + "; device names must be unique");
      return;
    }
    String path = described.self().path().toString();
    if (!awaiting.contains(path)) {
      return;
    }
    ActorRef<DeviceCommand> ref = described.self();
    awaiting.remove(path);
    devices.put(described.device(), new DeviceInfo(described.device(), described.address(),
        described.budgetBytes(), ref));
    if (awaiting.isEmpty()) {
      List<DeviceInfo> ordered = new ArrayList<>(devices.values());
      ordered.sort(Comparator.comparing(DeviceInfo::name));
      devices.clear();
      ordered.forEach(d -> devices.put(d.name(), d));
      startPhase(Phase.PLAN, timeouts.prepare(), Set.of());
      context.pipeToSelf(DjlThread.submit(() -> JobPlanning.plan(spec, ordered, config)),
          (planned, error) -> new Planned(planned, error));
    }
  }

  private Behavior<Command> onPlanned(Planned planned) {
    if (phase != Phase.PLAN) {
      return this;
    }
    if (planned.error() != null) {
      Throwable cause = planned.error();
      while (cause.getCause() != null && cause.getMessage() == null) {
        cause = cause.getCause();
      }
      return fail("planning failed: " + cause.getMessage());
    }
    plan = planned.plan();
    startPhase(Phase.HOME, timeouts.prepare(), Set.of());
    context.pipeToSelf(assignHomes(), (homes, error) -> new HomesAssigned(homes, error));
    return this;
  }

  /**
   * Tells the shard directory what each device reserves for training under the plan, then places
   * each group's LayerShard; answers the home device of each group.
   */
  private CompletionStage<Map<String, String>> assignHomes() {
    var system = context.getSystem();
    var directory = DeviceDirectory.get(system);
    List<CompletableFuture<?>> announced = new ArrayList<>();
    for (DeviceInfo d : devices.values()) {
      announced.add(directory.announce(new DeviceEntry(d.name(), d.address(),
          d.budgetBytes(), plan.assignments().get(d.name()).predictedPeakBytes())).toCompletableFuture());
    }
    List<String> addresses = devices.values().stream().map(DeviceInfo::address).toList();
    return CompletableFuture.allOf(announced.toArray(new CompletableFuture[0]))
        .thenCompose(done -> LayerShard.awaitRegions(system, addresses, timeouts.prepare()))
        .thenCompose(missing -> {
          if (!missing.isEmpty()) {
            // Off the actor's thread: its context's logger is not for futures.
            LoggerFactory.getLogger(JobCoordinator.class).warn(
                "job {}: no shard region registered yet at {}; shards go to the others", spec.jobId(), missing);
          }
          Map<String, CompletableFuture<LayerShard.Assigned>> assigned =
              new LinkedHashMap<>();
          for (GroupPlan group : plan.groups()) {
            assigned.put(group.groupId(), LayerShard.assign(system,
                new ShardDemand(group.shardId(), group.weightBytes(), group.updaters()),
                timeouts.prepare()).toCompletableFuture());
          }
          return CompletableFuture.allOf(assigned.values()
              .toArray(new CompletableFuture[0])).thenApply(all -> {
                Map<String, String> homes = new LinkedHashMap<>();
                assigned.forEach((id, home) -> homes.put(id, home.join().homeDevice()));
                return homes;
              });
        });
  }

  private Behavior<Command> onHomesAssigned(HomesAssigned assigned) {
    if (phase != Phase.HOME) {
      return this;
    }
    List<GroupPlan> groups = new ArrayList<>();
    for (GroupPlan group : plan.groups()) {
      String home = assigned.error() == null ? assigned.homes().get(group.groupId()) : null;
      if (home != null && devices.containsKey(home)) {
        if (!group.updaters().contains(home)) {
          // It then stores the weights each refresh brings it, which cost no extra transfer.
          context.getLog().info("job {}: group {} has its shard on {}, which does not update it (no updater"
              + " had room)", spec.jobId(), group.groupId(), home);
        }
        groups.add(group.withShardHome(home));
      } else {
        // The owner keeps the shard current over the network.
        context.getLog().warn("job {}: group {} has its shard on {} ({}), outside the job",
            spec.jobId(), group.groupId(), home == null || home.isEmpty() ? "no device" : home,
            assigned.error() == null ? "placed by the shard allocation" : assigned.error().getMessage());
        groups.add(group);
      }
    }
    plan = new PlannedJob(plan.assignments(), groups, plan.layerNames(), plan.fullUpdatePeakBytes(),
        plan.description() + homesTable(groups));
    client.tell(new JobEvent.Planned(spec.jobId(), plan.description()));
    startPhase(Phase.PREPARE, timeouts.prepare(), devices.keySet());
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    for (DeviceInfo device : ordered) {
      device.device().tell(new DeviceCommand.Prepare(spec, ordered, plan.assignments().get(device.name()),
          plan.groups(), replies));
      totals.put(device.name(), new DeviceTotals());
    }
    return this;
  }

  private static String homesTable(List<GroupPlan> groups) {
    StringBuilder out = new StringBuilder("layer shards (an updater at the home leads the refresh):\n");
    for (GroupPlan g : groups) {
      out.append(String.format(Locale.ROOT, "  %-6s %-28s home %-10s refresh from %-10s %8.2f MiB  layers %s%n",
          g.groupId(), g.shardId(), g.shardHome(), g.owner(), g.weightBytes() / 1048576.0, g.layers()));
    }
    return out.toString();
  }

  private void onPrepared(DeviceEvent event) {
    if (!(event instanceof DeviceEvent.Prepared prepared) || !awaiting.remove(prepared.device())) {
      return;
    }
    baselines.put(prepared.device(), prepared.baselineRssBytes());
    stepsPerEpoch = Math.min(stepsPerEpoch, prepared.stepsPerEpoch());
    if (awaiting.isEmpty()) {
      if (spec.maxStepsPerEpoch() > 0) {
        stepsPerEpoch = Math.min(stepsPerEpoch, spec.maxStepsPerEpoch());
      }
      if (stepsPerEpoch <= 0) {
        fail("a device's data shard holds less than one batch of " + spec.batch());
        return;
      }
      context.getLog().info("job {}: {} devices ready, {} epochs of {} steps", spec.jobId(),
          devices.size(), spec.epochs(), stepsPerEpoch);
      jobStarted = System.nanoTime();
      runStep();
    }
  }

  private long totalSteps() {
    return (long) stepsPerEpoch * spec.epochs();
  }

  private void runStep() {
    boolean lastOfEpoch = stepInEpoch == stepsPerEpoch - 1;
    boolean refresh = lastOfEpoch || (step + 1) % spec.refreshInterval() == 0;
    boolean average = lastOfEpoch || (step + 1) % spec.averagingInterval() == 0;
    startPhase(Phase.STEP, timeouts.step(), devices.keySet());
    stepLosses.clear();
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.RunStep(spec.jobId(), epoch, step, average, refresh, replies));
    }
  }

  private void onStepCompleted(DeviceEvent event) {
    if (!(event instanceof DeviceEvent.StepCompleted completed) || completed.step() != step
        || !awaiting.remove(completed.device())) {
      return;
    }
    totals.get(completed.device()).add(completed.metrics());
    stepLosses.add(completed.metrics().loss());
    currentStepAggregation = Math.max(currentStepAggregation, completed.metrics().aggregationMillis());
    if (!awaiting.isEmpty()) {
      return;
    }
    double stepMillis = (System.nanoTime() - phaseStarted) / 1e6;
    stepMillisEach.add(stepMillis);
    stepAggregationEach.add(currentStepAggregation);
    currentStepAggregation = 0;
    double loss = stepLosses.stream().mapToDouble(Float::doubleValue).average().orElse(Double.NaN);
    epochLossSum += loss;
    epochLossCount++;
    step++;
    stepInEpoch++;
    double elapsed = (System.nanoTime() - jobStarted) / 1e9;
    double eta = elapsed / step * (totalSteps() - step);
    client.tell(new JobEvent.StepReported(spec.jobId(), epoch, step, totalSteps(), loss, stepMillis, eta));
    if (stepInEpoch < stepsPerEpoch) {
      if (spec.evaluateEvery() > 0 && step % spec.evaluateEvery() == 0) {
        evaluate();
      } else {
        runStep();
      }
      return;
    }
    evaluate();
  }

  /** Measures test accuracy on every device's share of the test set; mid-epoch when steps remain. */
  private void evaluate() {
    correct = 0;
    evaluated = 0;
    startPhase(Phase.EVALUATE, timeouts.evaluate(), devices.keySet());
    int shard = 0;
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.Evaluate(spec.jobId(), shard++, devices.size(), replies));
    }
  }

  private void onEvaluated(DeviceEvent event) {
    if (!(event instanceof DeviceEvent.Evaluated result) || !awaiting.remove(result.device())) {
      return;
    }
    correct += result.correct();
    evaluated += result.total();
    if (!awaiting.isEmpty()) {
      return;
    }
    double accuracy = evaluated == 0 ? 0 : (double) correct / evaluated;
    double trainingSeconds = stepMillisEach.stream().mapToDouble(Double::doubleValue).sum() / 1000;
    accuracyCurve.add(new JobReport.AccuracyPoint(step, trainingSeconds, accuracy));
    if (stepInEpoch < stepsPerEpoch) {
      context.getLog().info("job {}: test accuracy {} after {} steps", spec.jobId(), accuracy, step);
      runStep();
      return;
    }
    epochAccuracies.add(accuracy);
    epochLosses.add(epochLossSum / Math.max(1, epochLossCount));
    epochLossSum = 0;
    epochLossCount = 0;
    if (spec.checkpointDir().isEmpty()) {
      finishEpoch(null);
      return;
    }
    DeviceInfo saver = localDevice();
    String path = Path.of(spec.checkpointDir(), spec.jobId(), "epoch-" + (epoch + 1) + ".ckpt").toString();
    startPhase(Phase.CHECKPOINT, timeouts.evaluate(), Set.of(saver.name()));
    saver.device().tell(new DeviceCommand.SaveCheckpoint(spec.jobId(), path, replies));
  }

  /** The device on this node if there is one (its checkpoint lands where the job was submitted). */
  private DeviceInfo localDevice() {
    String self = Cluster.get(context.getSystem()).selfMember().address().toString();
    return devices.values().stream().filter(d -> d.address().equals(self)).findFirst()
        .orElse(devices.values().iterator().next());
  }

  private void onCheckpointSaved(DeviceEvent event) {
    if (event instanceof DeviceEvent.CheckpointSaved saved && awaiting.remove(saved.device())) {
      checkpoints.add(saved.path());
      finishEpoch(saved.path());
    }
  }

  private void finishEpoch(String checkpoint) {
    double accuracy = epochAccuracies.get(epochAccuracies.size() - 1);
    client.tell(new JobEvent.EpochEvaluated(spec.jobId(), epoch, accuracy,
        epochLosses.get(epochLosses.size() - 1), checkpoint));
    epoch++;
    stepInEpoch = 0;
    if (epoch < spec.epochs()) {
      runStep();
    } else {
      succeed();
    }
  }

  private void succeed() {
    phase = Phase.DONE;
    timers.cancelAll();
    List<JobReport.DeviceReport> reports = new ArrayList<>();
    for (DeviceInfo device : devices.values()) {
      reports.add(totals.get(device.name()).report(device, plan.assignments().get(device.name())));
    }
    JobReport report = new JobReport(spec, plan.description(), plan.fullUpdatePeakBytes(), reports, step,
        mean(stepAggregationEach), mean(stepMillisEach), median(stepAggregationEach), median(stepMillisEach),
        epochAccuracies.get(epochAccuracies.size() - 1), List.copyOf(epochAccuracies),
        List.copyOf(epochLosses), List.copyOf(accuracyCurve), List.copyOf(checkpoints));
    endOnDevices();
    client.tell(new JobEvent.Succeeded(report));
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElse(0);
  }

  private static double median(List<Double> values) {
    if (values.isEmpty()) {
      return 0;
    }
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  private Behavior<Command> onDeadlinePassed(DeadlinePassed passed) {
    if (passed.token() != deadlineToken || phase == Phase.DONE) {
      return this;
    }
    return switch (passed.phase()) {
      case DISCOVER -> fail("only " + discovered.size() + " of " + expectedDevices
          + " devices joined within " + timeouts.discovery() + ": " + discovered.keySet());
      case PLAN -> fail("planning took longer than " + timeouts.prepare());
      default -> fail(passed.phase().name().toLowerCase() + (passed.phase() == Phase.STEP ? " " + step : "")
          + ": no answer within the deadline from " + awaitingNames());
    };
  }

  private List<String> awaitingNames() {
    List<String> names = new ArrayList<>();
    for (String key : awaiting) {
      DeviceInfo info = devices.get(key);
      names.add(info != null ? info.name() + " (" + info.address() + ")" : key);
    }
    return names;
  }

  private Behavior<Command> fail(String reason) {
    if (phase == Phase.DONE) {
      return this;
    }
    phase = Phase.DONE;
    timers.cancelAll();
    // Collectives blame members by address; say which device that is.
    for (DeviceInfo device : devices.values()) {
      reason = reason.replace(device.address(), "device " + device.name() + " (" + device.address() + ")");
    }
    context.getLog().error("job {} failed: {}", spec.jobId(), reason);
    endOnDevices();
    client.tell(new JobEvent.Failed(spec.jobId(), reason, List.copyOf(checkpoints)));
    return this;
  }

  private void endOnDevices() {
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    if (plan != null) {
      plan.groups().forEach(g -> LayerShard.shardOf(context.getSystem(), g.shardId())
          .tell(LayerShard.Retire.INSTANCE));
    }
  }

  /** Sums of one device's step metrics. */
  private final class DeviceTotals {
    long steps;
    double computeMillis;
    double allReduceMillis;
    double broadcastMillis;
    double aggregationMillis;
    double collectiveWallMillis;
    long bytes;
    long peakTrainingBytes;
    final Map<List<String>, WireBytes> wire = new java.util.LinkedHashMap<>();

    void add(StepMetrics m) {
      steps++;
      computeMillis += m.computeMillis();
      allReduceMillis += m.allReduceMillis();
      broadcastMillis += m.broadcastMillis();
      aggregationMillis += m.aggregationMillis();
      collectiveWallMillis += m.collectiveWallMillis();
      bytes += m.allReduceBytes() + m.broadcastBytes();
      peakTrainingBytes = Math.max(peakTrainingBytes, m.peakTrainingBytes());
      for (WireBytes w : m.wire()) {
        wire.merge(List.of(w.group(), w.kind()), w, WireBytes::plus);
      }
    }

    JobReport.DeviceReport report(DeviceInfo device, org.dsparse.protocol.job.Assignment assignment) {
      double n = Math.max(1, steps);
      return new JobReport.DeviceReport(device.name(), device.budgetBytes(),
          assignment.updatedLayers().size(), assignment.predictedPeakBytes(), peakTrainingBytes,
          aggregationMillis / n, allReduceMillis / n, broadcastMillis / n, collectiveWallMillis / n,
          computeMillis / n, bytes / n, steps, List.copyOf(wire.values()));
    }
  }
}
