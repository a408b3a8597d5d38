package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.device.Device;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.training.trainer.DjlThread;
import org.slf4j.LoggerFactory;

/**
 * Drives one job through its phases, one behaviour each: discovering its devices, planning (and
 * placing the layer shards), preparing every device, then stepping (each device reports each
 * step), evaluating (every {@code evaluate-every} steps and at each epoch end) and checkpointing
 * at epoch ends; it reports to its client and stops. Every wait has a deadline; a miss fails the job
 * naming the devices that did not answer. Checkpoints already written stay.
 */
public final class JobCoordinator {

  /** Deadlines of the coordinator's waits. */
  public record Timeouts(Duration discovery, Duration prepare, Duration step, Duration evaluate) {}

  public sealed interface Command {}

  private record DevicesListed(Receptionist.Listing listing) implements Command {}

  private record FromDevice(DeviceEvent event) implements Command {}

  private record Planned(PlannedJob plan, Throwable error) implements Command {}

  /** Where sharding placed each group's LayerShard: its home device by group id. */
  private record HomesAssigned(Map<String, String> homes, Throwable error) implements Command {}

  /** The deadline of the wait numbered {@code token} passed. */
  private record DeadlinePassed(long token) implements Command {}

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final JobSpec spec;
  private final int expectedDevices;
  private final Timeouts timeouts;
  private final Config config;
  private final ActorRef<JobEvent> client;
  private final ActorRef<DeviceEvent> replies;

  /** The job's devices by name, in rank order once described. */
  private final Map<String, DeviceInfo> devices = new LinkedHashMap<>();
  private PlannedJob plan;
  /** Where the devices cut each step's backward, learning from each step's segment times. */
  private OverlapScheduler overlap;
  private JobMetrics metrics;
  private int stepsPerEpoch = Integer.MAX_VALUE;
  private int epoch;
  private int stepInEpoch;
  private long step;
  private long jobStarted;
  /** The current wait: its number (older deadlines are ignored), start and devices still to answer. */
  private long waitToken;
  private long waitStarted;
  private final Set<String> awaiting = new LinkedHashSet<>();

  public static Behavior<Command> create(JobSpec spec, int expectedDevices, Timeouts timeouts,
      Config config, ActorRef<JobEvent> client) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new JobCoordinator(ctx, timers, spec, expectedDevices, timeouts, config, client).discovering()));
  }

  private JobCoordinator(ActorContext<Command> context, TimerScheduler<Command> timers, JobSpec spec,
      int expectedDevices, Timeouts timeouts, Config config, ActorRef<JobEvent> client) {
    this.context = context;
    this.timers = timers;
    this.spec = spec;
    this.expectedDevices = expectedDevices;
    this.timeouts = timeouts;
    this.config = config;
    this.client = client;
    this.replies = context.messageAdapter(DeviceEvent.class, FromDevice::new);
  }

  // ---- discovering ------------------------------------------------------------------------------

  private Behavior<Command> discovering() {
    context.getLog().info("job {} ({}): waiting for {} devices", spec.jobId(), spec.mode(), expectedDevices);
    context.getSystem().receptionist().tell(Receptionist.subscribe(Device.SERVICE_KEY,
        context.messageAdapter(Receptionist.Listing.class, DevicesListed::new)));
    Map<String, ActorRef<DeviceCommand>> discovered = new TreeMap<>();
    long token = startWait(timeouts.discovery(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(DevicesListed.class, listed -> {
          for (ActorRef<DeviceCommand> ref : listed.listing().getServiceInstances(Device.SERVICE_KEY)) {
            discovered.put(ref.path().toString(), ref);
          }
          if (discovered.size() < expectedDevices) {
            return Behaviors.same();
          }
          Map<String, ActorRef<DeviceCommand>> chosen = new LinkedHashMap<>();
          discovered.entrySet().stream().limit(expectedDevices).forEach(e -> chosen.put(e.getKey(), e.getValue()));
          return describing(chosen);
        })
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : fail("only " + discovered.size() + " of " + expectedDevices + " devices joined within "
                + timeouts.discovery() + ": " + discovered.keySet()))
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Asks the chosen devices (by actor path) to describe themselves. */
  private Behavior<Command> describing(Map<String, ActorRef<DeviceCommand>> chosen) {
    Map<String, DeviceInfo> described = new TreeMap<>();
    chosen.values().forEach(ref -> ref.tell(new DeviceCommand.Describe(replies)));
    return awaitingDevices("describe", timeouts.discovery(), chosen.keySet(), event -> {
      if (!(event instanceof DeviceEvent.Described d) || !awaiting.contains(d.self().path().toString())) {
        return Behaviors.same();
      }
      if (described.containsKey(d.device())) {
        return fail("two devices are named " + d.device() + "; device names must be unique");
      }
      awaiting.remove(d.self().path().toString());
      described.put(d.device(), new DeviceInfo(d.device(), d.address(), d.budgetBytes(), d.self()));
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      described.values().stream().sorted(Comparator.comparing(DeviceInfo::name))
          .forEach(info -> devices.put(info.name(), info));
      return planning();
    });
  }

  // ---- planning ---------------------------------------------------------------------------------

  /** Plans on the DJL thread, then places each group's LayerShard. */
  private Behavior<Command> planning() {
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    context.pipeToSelf(DjlThread.submit(() -> JobPlanning.plan(spec, ordered, config)), Planned::new);
    long token = startWait(timeouts.prepare(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(Planned.class, planned -> {
          if (planned.error() != null) {
            Throwable cause = planned.error();
            while (cause.getCause() != null && cause.getMessage() == null) {
              cause = cause.getCause();
            }
            return fail("planning failed: " + cause.getMessage());
          }
          plan = planned.plan();
          context.pipeToSelf(assignHomes(), HomesAssigned::new);
          return Behaviors.same();
        })
        .onMessage(HomesAssigned.class, this::onHomesAssigned)
        .onMessage(FromDevice.class, from -> onDeviceFailure(from.event()))
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : fail((plan == null ? "planning" : "placing the layer shards") + " took longer than "
                + timeouts.prepare()))
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /**
   * Tells the shard directory what each device reserves for training under the plan, waits until
   * every device's node can host shards, then places each group's LayerShard; answers the home
   * device of each group.
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
    List<GroupPlan> groups = plan.groups();
    return CompletableFuture.allOf(announced.toArray(new CompletableFuture[0]))
        .thenCompose(done -> LayerShard.awaitRegions(system, addresses, timeouts.prepare()))
        .thenCompose(missing -> {
          if (!missing.isEmpty()) {
            // Off the actor's thread: its context's logger is not for futures.
            LoggerFactory.getLogger(JobCoordinator.class).warn(
                "job {}: no shard region registered yet at {}; shards go to the others", spec.jobId(), missing);
          }
          Map<String, CompletableFuture<LayerShard.Assigned>> assigned = new LinkedHashMap<>();
          for (GroupPlan group : groups) {
            assigned.put(group.groupId(), LayerShard.assign(system,
                new ShardDemand(group.shardId(), group.weightBytes(), group.updaters()),
                timeouts.prepare()).toCompletableFuture());
          }
          return CompletableFuture.allOf(assigned.values().toArray(new CompletableFuture[0])).thenApply(all -> {
            Map<String, String> homes = new LinkedHashMap<>();
            assigned.forEach((id, home) -> homes.put(id, home.join().homeDevice()));
            return homes;
          });
        });
  }

  private Behavior<Command> onHomesAssigned(HomesAssigned assigned) {
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
    plan = plan.withGroups(groups, homesTable(groups));
    client.tell(new JobEvent.Planned(spec.jobId(), plan.description()));
    return preparing();
  }

  private static String homesTable(List<GroupPlan> groups) {
    StringBuilder out = new StringBuilder("layer shards (an updater at the home leads the refresh):\n");
    for (GroupPlan g : groups) {
      out.append(String.format(Locale.ROOT, "  %-6s %-28s home %-10s refresh from %-10s %8.2f MiB  layers %s%n",
          g.groupId(), g.shardId(), g.shardHome(), g.owner(), g.weightBytes() / 1048576.0, g.layers()));
    }
    return out.toString();
  }

  // ---- preparing --------------------------------------------------------------------------------

  private Behavior<Command> preparing() {
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    for (DeviceInfo device : ordered) {
      device.device().tell(new DeviceCommand.Prepare(spec, ordered, plan.assignments().get(device.name()),
          plan.groups(), replies));
    }
    overlap = JobPlanning.overlapScheduler(spec, plan);
    metrics = new JobMetrics(devices.keySet());
    Map<String, String> startsAt = new TreeMap<>();
    return awaitingDevices("prepare", timeouts.prepare(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.Prepared prepared) || !awaiting.remove(prepared.device())) {
        return Behaviors.same();
      }
      stepsPerEpoch = Math.min(stepsPerEpoch, prepared.stepsPerEpoch());
      startsAt.put(prepared.device(), "epoch " + (prepared.epoch() + 1) + " after step " + prepared.step());
      epoch = prepared.epoch();
      step = prepared.step();
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      if (startsAt.values().stream().distinct().count() > 1) {
        return fail("the devices' checkpoints in " + spec.resumeFrom() + " are from different points: " + startsAt);
      }
      if (epoch >= spec.epochs()) {
        return fail("the checkpoints in " + spec.resumeFrom() + " end epoch " + epoch + " and the job has "
            + spec.epochs() + " epochs: nothing is left to train (raise epochs to go on)");
      }
      if (!spec.resumeFrom().isEmpty()) {
        context.getLog().info("job {}: resuming from {} at epoch {}, after step {}", spec.jobId(), spec.resumeFrom(),
            epoch + 1, step);
      }
      if (spec.maxStepsPerEpoch() > 0) {
        stepsPerEpoch = Math.min(stepsPerEpoch, spec.maxStepsPerEpoch());
      }
      if (stepsPerEpoch <= 0) {
        return fail("a device's data shard holds less than one batch of " + spec.batch());
      }
      context.getLog().info("job {}: {} devices ready, {} epochs of {} steps", spec.jobId(),
          devices.size(), spec.epochs(), stepsPerEpoch);
      jobStarted = System.nanoTime();
      return stepping();
    });
  }

  // ---- stepping, evaluating, checkpointing ------------------------------------------------------

  /** Runs step {@link #step} on every device. */
  private Behavior<Command> stepping() {
    boolean lastOfEpoch = stepInEpoch == stepsPerEpoch - 1;
    boolean refresh = lastOfEpoch || (step + 1) % spec.refreshInterval() == 0;
    boolean average = lastOfEpoch || (step + 1) % spec.averagingInterval() == 0;
    List<Integer> cuts = overlap.cutsFor(step);
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.RunStep(spec.jobId(), epoch, step, average, refresh, cuts, replies));
    }
    Map<String, OverlapScheduler.SegmentTimes> segments = new TreeMap<>();
    return awaitingDevices("step " + step, timeouts.step(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.StepCompleted completed) || completed.step() != step
          || !awaiting.remove(completed.device())) {
        return Behaviors.same();
      }
      metrics.deviceStepped(completed.device(), completed.metrics());
      segments.put(completed.device(), segmentTimes(completed.metrics().segments()));
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      overlap.observe(step, segments).ifPresent(line -> {
        context.getLog().info("job {}: {}", spec.jobId(), line);
        metrics.overlapScheduled(line);
      });
      double stepMillis = (System.nanoTime() - waitStarted) / 1e6;
      double loss = metrics.stepEnded(stepMillis);
      step++;
      stepInEpoch++;
      long totalSteps = (long) stepsPerEpoch * spec.epochs();
      double elapsed = (System.nanoTime() - jobStarted) / 1e9;
      client.tell(new JobEvent.StepReported(spec.jobId(), epoch, step, totalSteps, loss, stepMillis,
          elapsed / step * (totalSteps - step)));
      boolean epochEnds = stepInEpoch == stepsPerEpoch;
      boolean evaluateNow = epochEnds || (spec.evaluateEvery() > 0 && step % spec.evaluateEvery() == 0);
      return evaluateNow ? evaluating() : stepping();
    });
  }

  /** A device's segment times as the overlap scheduler takes them. */
  public static OverlapScheduler.SegmentTimes segmentTimes(StepMetrics.Segments measured) {
    double[] backward = measured.backwardMillis().clone();
    double[] transfer = measured.transferMillis().clone();
    for (int s = 0; s < backward.length; s++) {
      backward[s] /= 1e3;
      transfer[s] /= 1e3;
    }
    return new OverlapScheduler.SegmentTimes(measured.cuts(), backward, measured.bytes(), transfer);
  }

  /** Measures test accuracy on every device's share of the test set; mid-epoch when steps remain. */
  private Behavior<Command> evaluating() {
    int shard = 0;
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.Evaluate(spec.jobId(), shard++, devices.size(), replies));
    }
    long[] counts = new long[2];
    return awaitingDevices("evaluate", timeouts.evaluate(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.Evaluated result) || !awaiting.remove(result.device())) {
        return Behaviors.same();
      }
      counts[0] += result.correct();
      counts[1] += result.total();
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      double accuracy = counts[1] == 0 ? 0 : (double) counts[0] / counts[1];
      metrics.evaluated(step, accuracy);
      if (stepInEpoch < stepsPerEpoch) {
        context.getLog().info("job {}: test accuracy {} after {} steps", spec.jobId(), accuracy, step);
        return stepping();
      }
      double loss = metrics.epochEnded(accuracy);
      return spec.checkpointDir().isEmpty() ? epochEnded(accuracy, loss, null) : checkpointing(accuracy, loss);
    });
  }

  /**
   * Every device saves its checkpoint of the epoch, {@code checkpoint-dir/JOB/epoch-N/DEVICE.ckpt} on
   * its own disk: the whole model (the same on every device after the epoch's refresh), where
   * training stands, and the optimizer state of what it updates, so that the job can resume from that
   * directory. The file of the device on this node (or the first) is the one reported.
   */
  private Behavior<Command> checkpointing(double accuracy, double loss) {
    String self = Cluster.get(context.getSystem()).selfMember().address().toString();
    DeviceInfo reported = devices.values().stream().filter(d -> d.address().equals(self)).findFirst()
        .orElse(devices.values().iterator().next());
    Path dir = Path.of(spec.checkpointDir(), spec.jobId(), "epoch-" + (epoch + 1));
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.SaveCheckpoint(spec.jobId(), dir.resolve(device.name() + ".ckpt").toString(),
          epoch + 1, step, plan.description(), replies));
    }
    String[] reportedPath = new String[1];
    return awaitingDevices("checkpoint", timeouts.evaluate(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.CheckpointSaved saved) || !awaiting.remove(saved.device())) {
        return Behaviors.same();
      }
      if (saved.device().equals(reported.name())) {
        reportedPath[0] = saved.path();
      }
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      metrics.checkpointed(reportedPath[0]);
      return epochEnded(accuracy, loss, reportedPath[0]);
    });
  }

  private Behavior<Command> epochEnded(double accuracy, double loss, String checkpoint) {
    client.tell(new JobEvent.EpochEvaluated(spec.jobId(), epoch, accuracy, loss, checkpoint));
    epoch++;
    stepInEpoch = 0;
    return epoch < spec.epochs() ? stepping() : succeed();
  }

  // ---- endings ----------------------------------------------------------------------------------

  private Behavior<Command> succeed() {
    timers.cancelAll();
    JobReport report = metrics.report(spec, plan, devices.values(), step);
    endOnDevices();
    client.tell(new JobEvent.Succeeded(report));
    return Behaviors.stopped();
  }

  private Behavior<Command> fail(String reason) {
    timers.cancelAll();
    // Collectives blame members by address; say which device that is.
    for (DeviceInfo device : devices.values()) {
      reason = reason.replace(device.address(), "device " + device.name() + " (" + device.address() + ")");
    }
    context.getLog().error("job {} failed: {}", spec.jobId(), reason);
    endOnDevices();
    client.tell(new JobEvent.Failed(spec.jobId(), reason, metrics == null ? List.of() : metrics.checkpoints()));
    return Behaviors.stopped();
  }

  private void endOnDevices() {
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    if (plan != null) {
      plan.groups().forEach(g -> LayerShard.shardOf(context.getSystem(), g.shardId())
          .tell(LayerShard.Retire.INSTANCE));
    }
  }

  // ---- waits ------------------------------------------------------------------------------------

  /** Starts a wait with a deadline for {@code devicesToHear}; answers its token. */
  private long startWait(Duration deadline, Set<String> devicesToHear) {
    awaiting.clear();
    awaiting.addAll(devicesToHear);
    waitToken++;
    waitStarted = System.nanoTime();
    timers.startSingleTimer("deadline", new DeadlinePassed(waitToken), deadline);
    return waitToken;
  }

  /**
   * A phase that waits for every one of {@code devicesToHear} (names, or actor paths before the
   * devices are described) to answer; {@code onEvent} takes their events and answers the next
   * behaviour. A device's failure fails the job; so does the deadline, naming who did not answer.
   */
  private Behavior<Command> awaitingDevices(String what, Duration deadline, Set<String> devicesToHear,
      Function<DeviceEvent, Behavior<Command>> onEvent) {
    long token = startWait(deadline, devicesToHear);
    BehaviorBuilder<Command> builder = Behaviors.receive(Command.class);
    return builder
        .onMessage(FromDevice.class, from -> from.event() instanceof DeviceEvent.Failed
            ? onDeviceFailure(from.event()) : onEvent.apply(from.event()))
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : fail(what + ": no answer within " + deadline + " from " + awaitingNames()))
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** A failure reported by a device for this job (or for none, as a device that cannot describe itself). */
  private Behavior<Command> onDeviceFailure(DeviceEvent event) {
    if (event instanceof DeviceEvent.Failed failure
        && (failure.jobId().equals(spec.jobId()) || devices.isEmpty())) {
      return fail("device " + failure.device() + ": " + failure.reason());
    }
    return Behaviors.same();
  }

  private List<String> awaitingNames() {
    List<String> names = new ArrayList<>();
    for (String key : awaiting) {
      DeviceInfo info = devices.get(key);
      names.add(info != null ? info.name() + " (" + info.address() + ")" : key);
    }
    return names;
  }
}
