package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.dsparse.actors.device.Device;
import org.dsparse.actors.metrics.NodeMetrics;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.training.trainer.DjlThread;

/**
 * Drives one job through its phases, one behaviour each: discovering its devices, planning (and
 * placing the layer shards), preparing every device, then stepping (each device reports each
 * step), evaluating (every {@code evaluate-every} steps and at each epoch end) and checkpointing
 * at epoch ends; it reports to its client and stops. Every wait has a deadline.
 *
 * <p>Devices come and go. A step that every device completed and that refreshed every layer is
 * committed: the next step asks each device to keep a snapshot of it. When a device is lost (its
 * node becomes unreachable or leaves the cluster, it reports a failure, or it misses a deadline) the
 * job recovers: the devices left abandon what they were doing ({@link #abandoning}), the lost node
 * is given time to be removed from the cluster, the job is re-planned for the devices left and
 * prepared from the committed step, which every device restores from its snapshot (a device without
 * one fetches the model from one that has it), and training goes on from there; the steps after it
 * are trained again. A device that joins is adopted the same way at the next committed step. With
 * too few devices to hold the model the job pauses until more join. Without elasticity, or before
 * the first step, a lost device fails the job, naming it. Checkpoints already written stay.
 */
public final class JobCoordinator {

  /** Deadlines of the coordinator's waits. */
  public record Timeouts(Duration discovery, Duration prepare, Duration step, Duration evaluate) {}

  /**
   * What the coordinator does when devices leave or join ({@code dsparse.job.elastic}).
   *
   * @param enabled recover from lost devices and adopt joining ones; off: a lost device fails the job
   * @param abandon how long the devices left have to stop their step
   * @param removalWait how long a re-plan waits for a lost node to leave the cluster's membership
   * @param pause how long a job without a valid plan waits for devices before it fails
   * @param maxRecoveriesWithoutProgress recoveries in a row without a committed step before the job fails
   * @param restoreFromShards a device without the committed state reads it from the layer shards
   *     (each group's from its own home, at once) rather than from one device's snapshot
   */
  public record Elasticity(boolean enabled, Duration abandon, Duration removalWait, Duration pause,
      int maxRecoveriesWithoutProgress, boolean restoreFromShards) {}

  /**
   * The last step every device completed with every layer refreshed: where a recovery goes back to.
   *
   * @param shards the groups whose layer shards hold it (their homes were told to store it); empty
   *     until then
   */
  private record Committed(long step, int epoch, int stepInEpoch, List<GroupPlan> shards) {
    Committed(long step, int epoch, int stepInEpoch) {
      this(step, epoch, stepInEpoch, List.of());
    }

    Committed keptIn(List<GroupPlan> groups) {
      return new Committed(step, epoch, stepInEpoch, groups);
    }

    Committed inEpoch(int next) {
      return new Committed(step, next, 0, shards);
    }
  }

  public sealed interface Command {}

  private record DevicesListed(Receptionist.Listing listing) implements Command {}

  private record FromDevice(DeviceEvent event) implements Command {}

  private record Planned(PlannedJob plan, Throwable error) implements Command {}

  /** Where sharding placed each group's LayerShard: its home device by group id. */
  private record HomesAssigned(Map<String, String> homes, Throwable error) implements Command {}

  /** The deadline of the wait numbered {@code token} passed. */
  private record DeadlinePassed(long token) implements Command {}

  /** The ended job's shards have stopped, or {@code error} says why not all did in time. */
  private record ShardsRetired(Throwable error) implements Command {}

  /** A cluster member changed: {@code lost} when it became unreachable or is leaving. */
  private record NodeChanged(String address, String how, boolean lost) implements Command {}

  /** This node is leaving the cluster (shut down): the coordinator stops and the devices keep the job. */
  private enum SelfLeaving implements Command { INSTANCE }

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  /** The job; only its resume directory changes, when a checkpoint there is refused. */
  private JobSpec spec;
  private final int expectedDevices;
  private final Timeouts timeouts;
  private final Elasticity elasticity;
  private final Config config;
  private final ActorRef<JobEvent> client;
  private final ActorRef<DeviceEvent> replies;

  /** Who is in the job, who waits to join, who was lost. */
  private final JobMembership membership;
  /** The job's devices by name, in rank order once described (the membership's). */
  private final Map<String, DeviceInfo> devices;
  private PlannedJob plan;
  /** During a recovery: the slices each device holds optimizer state of at the committed step. */
  private RestorePoint restorePoint;
  /** Re-plans so far: the plan's groups and shards are named after it. */
  private int generation;
  /**
   * Set when the job continues from its devices' state: another coordinator ran it before, and its
   * groups' names, whose registrations may linger, must not come back.
   */
  private String incarnation = "";
  private Committed committed;
  /** The next step asks the devices to keep a snapshot: the previous one was committed. */
  private boolean snapshotNext;
  /** Where the devices being prepared continue from; null for a fresh start. */
  private DeviceCommand.Restore restore;
  /** The recovery under way, until the job trains again. */
  private JobReport.Recovery recovering;
  private int recoveriesWithoutProgress;
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

  public static Behavior<Command> create(JobSpec spec, int expectedDevices, Timeouts timeouts, Elasticity elasticity,
      Config config, ActorRef<JobEvent> client) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new JobCoordinator(ctx, timers, spec, expectedDevices, timeouts, elasticity, config, client).discovering()));
  }

  private JobCoordinator(ActorContext<Command> context, TimerScheduler<Command> timers, JobSpec spec,
      int expectedDevices, Timeouts timeouts, Elasticity elasticity, Config config, ActorRef<JobEvent> client) {
    this.context = context;
    this.timers = timers;
    this.spec = spec;
    this.expectedDevices = expectedDevices;
    this.timeouts = timeouts;
    this.elasticity = elasticity;
    this.config = config;
    this.client = client;
    this.replies = context.messageAdapter(DeviceEvent.class, FromDevice::new);
    this.membership = new JobMembership(context.getSystem(), context.getLog(), spec.jobId(), elasticity.enabled(),
        replies);
    this.devices = membership.devices();
    var subscriptions = Cluster.get(context.getSystem()).subscriptions();
    String self = Cluster.get(context.getSystem()).selfMember().address().toString();
    subscriptions.tell(Subscribe.create(context.messageAdapter(ClusterEvent.MemberEvent.class, event -> {
      NodeChanged changed = nodeChanged(event);
      return changed.lost() && changed.address().equals(self) ? SelfLeaving.INSTANCE : changed;
    }), ClusterEvent.MemberEvent.class));
    subscriptions.tell(Subscribe.create(context.messageAdapter(ClusterEvent.ReachabilityEvent.class,
        JobCoordinator::nodeChanged), ClusterEvent.ReachabilityEvent.class));
  }

  private static NodeChanged nodeChanged(Object event) {
    ClusterChanges.Change change = ClusterChanges.of(event);
    return new NodeChanged(change.address(), change.how(), change.lost());
  }

  // ---- discovering ------------------------------------------------------------------------------

  private Behavior<Command> discovering() {
    context.getLog().info("job {} ({}): waiting for {} devices", spec.jobId(), spec.mode(), expectedDevices);
    context.getSystem().receptionist().tell(Receptionist.subscribe(Device.SERVICE_KEY,
        context.messageAdapter(Receptionist.Listing.class, DevicesListed::new)));
    Map<String, ActorRef<DeviceCommand>> discovered = new TreeMap<>();
    long token = startWait(timeouts.discovery(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(DevicesListed.class, listing -> {
          for (ActorRef<DeviceCommand> ref : listing.listing().getServiceInstances(Device.SERVICE_KEY)) {
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
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Asks the chosen devices (by actor path) to describe themselves. */
  private Behavior<Command> describing(Map<String, ActorRef<DeviceCommand>> chosen) {
    Map<String, DeviceInfo> answered = new TreeMap<>();
    chosen.values().forEach(ref -> ref.tell(new DeviceCommand.Describe(replies)));
    return awaitingDevices("describe", timeouts.discovery(), chosen.keySet(), event -> {
      if (!(event instanceof DeviceEvent.Described d) || !awaiting.contains(d.self().path().toString())) {
        return Behaviors.same();
      }
      if (answered.containsKey(d.device())) {
        return fail("two devices are named " + d.device() + "; device names must be unique");
      }
      awaiting.remove(d.self().path().toString());
      answered.put(d.device(), new DeviceInfo(d.device(), d.address(), d.budgetBytes(), d.self()));
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      membership.start(chosen, List.copyOf(answered.values()));
      return spec.resumeFrom().equals(JobSpec.RESUME_FROM_DEVICES) ? collectingState() : planning();
    });
  }

  /**
   * {@code resume-from = devices}: the job's devices still hold its state (its coordinator was lost);
   * each says which, and the job goes on from the latest, re-planned for the devices there are now.
   * Devices without that state fetch the model from one that has it.
   */
  private Behavior<Command> collectingState() {
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.Abandon(spec.jobId(), replies)));
    Map<String, DeviceEvent.Abandoned> answers = new TreeMap<>();
    return awaitingDevices("collecting the devices' state", elasticity.abandon(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.Abandoned a) || !awaiting.remove(a.device())) {
        return Behaviors.same();
      }
      answers.put(a.device(), a);
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      var latest = RestorePoint.latest(answers.values());
      if (latest.isEmpty()) {
        return fail("no device holds a state of job " + spec.jobId() + " to resume from (resume-from = devices): "
            + "resume from a checkpoint directory instead");
      }
      restorePoint = latest.get();
      DeviceEvent.HeldState state = restorePoint.state();
      long at = state.step();
      committed = new Committed(at, state.epoch(), state.stepInEpoch());
      restore = restoreFrom(restorePoint);
      metrics = new JobMetrics(devices.keySet());
      jobStarted = System.nanoTime();
      step = at;
      incarnation = "c" + Long.toString(System.currentTimeMillis() % 2_176_782_336L, 36) + ".";
      recovering = new JobReport.Recovery("resumed from the state its devices hold", List.of(), List.of(), "submit",
          System.currentTimeMillis(), 0, at, 0, List.of());
      context.getLog().info("job {}: resuming from the devices' state after step {} (epoch {}, {} steps into it), held "
          + "by {}", spec.jobId(), at, state.epoch() + 1, state.stepInEpoch(), restorePoint.holders());
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
            return restore != null ? paused("no plan fits the devices left (" + devices.keySet() + "): "
                + cause.getMessage()) : fail("planning failed: " + cause.getMessage());
          }
          plan = planned.plan().prefixed(spec.jobId(), groupPrefix());
          context.pipeToSelf(ShardPlacement.assignHomes(context.getSystem(), spec, devices.values(), plan,
              timeouts.prepare()), HomesAssigned::new);
          return Behaviors.same();
        })
        .onMessage(HomesAssigned.class, this::onHomesAssigned)
        .onMessage(FromDevice.class, from -> {
          if (from.event() instanceof DeviceEvent.Failed failure && failure.jobId().equals(spec.jobId())) {
            return trouble("device " + failure.device() + ": " + failure.reason(), "planning", List.of());
          }
          noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> onNodeChanged(changed, "planning"))
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : fail((plan == null ? "planning" : "placing the layer shards") + " took longer than "
                + timeouts.prepare()))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  private Behavior<Command> onHomesAssigned(HomesAssigned assigned) {
    plan = ShardPlacement.withHomes(plan, assigned.homes(), assigned.error(), devices.keySet(), spec.jobId(),
        context.getLog());
    client.tell(new JobEvent.Planned(spec.jobId(), plan.description(), List.copyOf(devices.values()), plan));
    return preparing();
  }

  // ---- preparing --------------------------------------------------------------------------------

  private Behavior<Command> preparing() {
    if (restore != null) {
      restore = restore.keeping(restorePoint.keptOptimizerState(plan, restore.source(), restore.shards()));
    }
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    for (DeviceInfo device : ordered) {
      device.device().tell(new DeviceCommand.Prepare(spec, ordered, plan.assignments().get(device.name()),
          plan.groups(), restore, replies));
    }
    overlap = JobPlanning.overlapScheduler(spec, plan);
    if (metrics == null) {
      metrics = new JobMetrics(devices.keySet());
    }
    stepsPerEpoch = Integer.MAX_VALUE;
    Map<String, String> startsAt = new TreeMap<>();
    Map<String, String> refused = new TreeMap<>();
    return awaitingDevices("prepare", timeouts.prepare(), devices.keySet(), event -> {
      if (event instanceof DeviceEvent.Failed failure && refusedCheckpoint(failure) && awaiting.remove(failure.device())) {
        refused.put(failure.device(), failure.reason());
      } else if (!(event instanceof DeviceEvent.Prepared prepared) || !awaiting.remove(prepared.device())) {
        return Behaviors.same();
      } else {
        stepsPerEpoch = Math.min(stepsPerEpoch, prepared.stepsPerEpoch());
        if (prepared.taken().fetched() && recovering != null) {
          recovering = recovering.taking(prepared.device(), prepared.taken());
        }
        startsAt.put(prepared.device(), "epoch " + (prepared.epoch() + 1) + " after step " + prepared.step());
        epoch = prepared.epoch();
        step = prepared.step();
      }
      if (!awaiting.isEmpty()) {
        return Behaviors.same();
      }
      if (!refused.isEmpty()) {
        return resumingFromThePreviousEpoch(refused);
      }
      if (spec.maxStepsPerEpoch() > 0) {
        stepsPerEpoch = Math.min(stepsPerEpoch, spec.maxStepsPerEpoch());
      }
      if (stepsPerEpoch <= 0) {
        return fail("a device's data shard holds less than one batch of " + spec.batch());
      }
      if (restore != null) {
        return trainingAgain();
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
      context.getLog().info("job {}: {} devices ready, {} epochs of {} steps", spec.jobId(),
          devices.size(), spec.epochs(), stepsPerEpoch);
      jobStarted = System.nanoTime();
      committed = new Committed(step, epoch, 0);
      snapshotNext = true;
      return stepping();
    });
  }

  /** A device could not resume from its file in the resume directory (damaged, missing, another plan). */
  private boolean refusedCheckpoint(DeviceEvent.Failed failure) {
    return restore == null && ResumeFolder.refused(spec, failure);
  }

  /**
   * Some devices refused their checkpoint of epoch N (every device answered, so no answer of this
   * round is still on its way): the job resumes from epoch N-1's checkpoints instead, if there are.
   */
  private Behavior<Command> resumingFromThePreviousEpoch(Map<String, String> refused) {
    Optional<Path> before = ResumeFolder.previousEpoch(spec.resumeFrom());
    if (before.isEmpty()) {
      return fail("cannot resume from " + spec.resumeFrom() + ": " + refused);
    }
    Path previous = before.get();
    context.getLog().warn("job {}: checkpoints in {} refused ({}); resuming from the previous epoch's, {}",
        spec.jobId(), spec.resumeFrom(), refused, previous);
    spec = spec.withResumeFrom(previous.toString());
    return preparing();
  }

  /** Every device is prepared from the committed step: the recovery is over. */
  private Behavior<Command> trainingAgain() {
    epoch = restore.epoch();
    stepInEpoch = restore.stepInEpoch();
    step = restore.step();
    restore = null;
    snapshotNext = true;
    JobReport.Recovery done = recovering.trainingAgain(System.currentTimeMillis(), List.copyOf(devices.keySet()));
    recovering = null;
    metrics.recovered(done);
    NodeMetrics.get(context.getSystem()).jobRecovered(spec.jobId(), done.lost().size(), done.joined().size());
    client.tell(new JobEvent.Recovered(spec.jobId(), done));
    context.getLog().info("job {}: training again from step {} on {} devices {}, {} s after the change ({} steps of "
        + "{} per epoch done in epoch {})", spec.jobId(), step, devices.size(), devices.keySet(),
        String.format(Locale.ROOT, "%.1f", (done.trainingAgainAtMillis() - done.detectedAtMillis()) / 1e3), stepInEpoch,
        stepsPerEpoch, epoch + 1);
    // A committed epoch end whose evaluation did not finish evaluates first.
    return stepInEpoch >= stepsPerEpoch ? evaluating() : stepping();
  }

  // ---- stepping, evaluating, checkpointing ------------------------------------------------------

  /** Runs step {@link #step} on every device. */
  private Behavior<Command> stepping() {
    boolean lastOfEpoch = stepInEpoch == stepsPerEpoch - 1;
    boolean refresh = lastOfEpoch || (step + 1) % spec.refreshInterval() == 0;
    boolean average = lastOfEpoch || (step + 1) % spec.averagingInterval() == 0;
    boolean evaluated = lastOfEpoch || (spec.evaluateEvery() > 0 && (step + 1) % spec.evaluateEvery() == 0);
    boolean snapshot = snapshotNext && elasticity.enabled();
    snapshotNext = false;
    if (snapshot) {
      // Each group's home stores the committed step in its shard before it runs this step.
      retire(committed.shards().stream().filter(g -> !plan.groups().contains(g)).toList());
      committed = committed.keptIn(plan.groups());
    }
    List<Integer> cuts = overlap.cutsFor(step);
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.RunStep(spec.jobId(), epoch, stepInEpoch, step, average, refresh, evaluated, cuts,
          snapshot, replies));
    }
    Map<String, OverlapScheduler.SegmentTimes> segments = new TreeMap<>();
    Map<String, StepMetrics> reported = new TreeMap<>();
    return awaitingDevices("step " + step, timeouts.step(), devices.keySet(), event -> {
      if (!(event instanceof DeviceEvent.StepCompleted completed) || completed.step() != step
          || !awaiting.remove(completed.device())) {
        return Behaviors.same();
      }
      metrics.deviceStepped(completed.device(), completed.metrics());
      reported.put(completed.device(), completed.metrics());
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
      NodeMetrics.get(context.getSystem()).jobStepped(spec.jobId(), step, loss, stepMillis / 1e3, devices.size());
      if (refresh) {
        // Every device holds every layer as it now stands: the step is committed.
        committed = new Committed(step, epoch, stepInEpoch);
        snapshotNext = true;
        recoveriesWithoutProgress = 0;
      }
      long totalSteps = (long) stepsPerEpoch * spec.epochs();
      double elapsed = (System.nanoTime() - jobStarted) / 1e9;
      client.tell(new JobEvent.StepReported(spec.jobId(), epoch, step, totalSteps, loss, stepMillis,
          elapsed / step * (totalSteps - step), reported));
      if (evaluated) {
        return evaluating();
      }
      return refresh && adoptingNow() ? adopting("step " + step) : stepping();
    });
  }

  /** What the current plan's group names start with: none for the first plan of a job. */
  private String groupPrefix() {
    return incarnation + (generation > 0 ? "r" + generation + "." : "");
  }

  /** Whether devices wait to join and the job may take them in. */
  private boolean adoptingNow() {
    return elasticity.enabled() && membership.hasJoiners();
  }

  /** A public form of a device's segment times, as the overlap scheduler takes them. */
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
      NodeMetrics.get(context.getSystem()).jobEvaluated(spec.jobId(), accuracy);
      client.tell(new JobEvent.Evaluated(spec.jobId(), step, accuracy));
      if (stepInEpoch < stepsPerEpoch) {
        context.getLog().info("job {}: test accuracy {} after {} steps", spec.jobId(), accuracy, step);
        return committed.step() == step && adoptingNow() ? adopting("step " + step) : stepping();
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
    if (committed.step() == step) {
      committed = committed.inEpoch(epoch);
    }
    if (epoch >= spec.epochs()) {
      return succeed();
    }
    return adoptingNow() ? adopting("epoch " + epoch + " end") : stepping();
  }

  // ---- recovering -------------------------------------------------------------------------------

  /**
   * Something went wrong while the job was at {@code phase}: with elasticity, and once training has
   * started, the job recovers without the {@code lost} devices (the abandon round finds any other
   * device that no longer answers); otherwise it fails.
   */
  private Behavior<Command> trouble(String cause, String phase, List<String> lost) {
    if (!elasticity.enabled() || committed == null) {
      return fail(cause);
    }
    recoveriesWithoutProgress++;
    if (recoveriesWithoutProgress > elasticity.maxRecoveriesWithoutProgress()) {
      return fail(cause + " (the job recovered " + (recoveriesWithoutProgress - 1)
          + " times in a row without committing a step)");
    }
    return recover(named(cause), phase, lost, List.of());
  }

  /** Takes the devices waiting to join in at this committed step. */
  private Behavior<Command> adopting(String phase) {
    List<String> joining = membership.joinerNames();
    return recover("device" + (joining.size() > 1 ? "s " : " ") + String.join(", ", joining) + " joined",
        phase, List.of(), List.of());
  }

  private Behavior<Command> recover(String cause, String phase, List<String> lost, List<String> joined) {
    lost.forEach(this::drop);
    metrics.stepAbandoned();
    long redone = step - committed.step();
    recovering = new JobReport.Recovery(cause, lost, joined, phase, System.currentTimeMillis(), 0, committed.step(),
        redone, List.of());
    context.getLog().warn("job {}: {} during {}: going back to step {} ({} step{} to train again) with {}",
        spec.jobId(), cause, phase, committed.step(), redone, redone == 1 ? "" : "s", devices.keySet());
    client.tell(new JobEvent.Recovering(spec.jobId(), recovering));
    return abandoning();
  }

  /** Drops a lost device from the job and from the recovery under way. */
  private void drop(String device) {
    membership.drop(device);
    if (recovering != null) {
      recovering = recovering.losing(device);
    }
  }

  /**
   * Every device left stops what it was doing and says which states it holds; a device that does not
   * answer within the abandon timeout is lost as well.
   */
  private Behavior<Command> abandoning() {
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.Abandon(spec.jobId(), replies)));
    Map<String, DeviceEvent.Abandoned> answers = new TreeMap<>();
    long token = startWait(elasticity.abandon(), devices.keySet());
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          if (from.event() instanceof DeviceEvent.Abandoned a && awaiting.remove(a.device())) {
            answers.put(a.device(), a);
            return awaiting.isEmpty() ? abandoned(answers) : Behaviors.same();
          }
          noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> {
          String device = jobDeviceAt(changed);
          if (device == null) {
            onMembership(changed);
            return Behaviors.same();
          }
          context.getLog().warn("job {}: device {} {} while the job abandoned its step", spec.jobId(), device,
              changed.how());
          drop(device);
          awaiting.remove(device);
          return awaiting.isEmpty() ? abandoned(answers) : Behaviors.same();
        })
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> {
          if (passed.token() != token) {
            return Behaviors.same();
          }
          context.getLog().warn("job {}: {} did not stop within {}: lost as well", spec.jobId(), awaitingNames(),
              elasticity.abandon());
          List.copyOf(awaiting).forEach(this::drop);
          return abandoned(answers);
        })
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** The devices left have stopped and said which states they hold. */
  private Behavior<Command> abandoned(Map<String, DeviceEvent.Abandoned> answers) {
    // A device may answer while its node is on its way out: it is lost all the same.
    for (String device : membership.departing()) {
      context.getLog().warn("job {}: device {} is leaving or unreachable: lost as well", spec.jobId(), device);
      drop(device);
    }
    answers.keySet().retainAll(devices.keySet());
    restorePoint = RestorePoint.at(new DeviceEvent.HeldState(committed.step(), committed.epoch(),
        committed.stepInEpoch(), List.of()), answers.values());
    if (restorePoint.holders().isEmpty()) {
      return fail(recovering.cause() + ", and no device left holds the job's state after step " + committed.step()
          + (metrics.checkpoints().isEmpty() ? "" : "; continue from the last checkpoint with submit --resume"));
    }
    restore = restoreFrom(restorePoint);
    return awaitingRemoval();
  }

  /**
   * Where the devices continue: the restore point, whose first holder still in the job gives the
   * model to the devices without it; null when no holder is left.
   */
  private DeviceCommand.Restore restoreFrom(RestorePoint point) {
    return point.holders().stream().filter(devices::containsKey).findFirst()
        .map(source -> new DeviceCommand.Restore(point.state().step(), point.state().epoch(),
            point.state().stepInEpoch(), source, devices.get(source).device(), List.of(), shardsHolding(point)))
        .orElse(null);
  }

  /**
   * The groups whose shards hold the restore point, when the job reads joiners' state from shards:
   * those whose homes stored it when they took their snapshot of it, else the plan's (the restore
   * point is the step every device completed last: each home stores it as it takes its live model
   * at Prepare). None unless every home holds the point and is still in the job (a lost home's
   * shard comes back empty).
   */
  private List<GroupPlan> shardsHolding(RestorePoint point) {
    if (!elasticity.restoreFromShards() || committed.step() != point.state().step()) {
      return List.of();
    }
    List<GroupPlan> shards = !committed.shards().isEmpty() ? committed.shards() : plan == null ? List.of()
        : plan.groups();
    return shards.stream().allMatch(g -> point.holders().contains(g.shardHome()) && devices.containsKey(g.shardHome()))
        ? shards : List.of();
  }

  /**
   * Gives the lost nodes that are unreachable or on their way out time to be removed from the
   * cluster (the split-brain resolver downs them), so that their layer shards move to the devices left
   * and the shard directory can be written again; then re-plans.
   */
  private Behavior<Command> awaitingRemoval() {
    Set<String> leaving = membership.lostNodesStillMembers();
    if (leaving.isEmpty()) {
      return replanning();
    }
    context.getLog().info("job {}: waiting up to {} for {} to leave the cluster", spec.jobId(), elasticity.removalWait(),
        leaving);
    long token = startWait(elasticity.removalWait(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(NodeChanged.class, changed -> {
          if (changed.how().equals("was removed from the cluster")) {
            leaving.remove(changed.address());
          }
          String device = jobDeviceAt(changed);
          if (device != null) {
            drop(device); // lost while waiting: re-plan without it too
          } else {
            onMembership(changed);
          }
          return leaving.isEmpty() ? replanning() : Behaviors.same();
        })
        .onMessage(FromDevice.class, from -> {
          noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> {
          if (passed.token() != token) {
            return Behaviors.same();
          }
          context.getLog().warn("job {}: {} still in the cluster after {}; re-planning regardless", spec.jobId(),
              leaving, elasticity.removalWait());
          return replanning();
        })
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Plans again for the devices left and those waiting to join, from the committed step. */
  private Behavior<Command> replanning() {
    recovering = recovering.adopting(membership.adoptJoiners());
    restore = restoreFrom(restorePoint);
    if (restore == null) {
      return fail(recovering.cause() + ", and every device holding the job's state after step " + committed.step()
          + " (" + restorePoint.holders() + ") was lost");
    }
    // The shards holding the committed step stay until the new plan's shards hold one: the devices
    // that join read the model from them.
    if (!restore.shards().isEmpty()) {
      committed = committed.keptIn(restore.shards());
    }
    retire(plan.groups().stream().filter(g -> !committed.shards().contains(g)).toList());
    generation++;
    return planning();
  }

  /**
   * No plan fits the devices left: the job waits for devices to join (each one that does is tried),
   * and fails after the pause timeout.
   */
  private Behavior<Command> paused(String reason) {
    String message = "paused: " + reason + "; waiting up to " + elasticity.pause() + " for more devices to join";
    context.getLog().error("job {} {}", spec.jobId(), message);
    client.tell(new JobEvent.Paused(spec.jobId(), message));
    long token = startWait(elasticity.pause(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          noteJoiner(from.event());
          return membership.hasJoiners() ? replanning() : Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> {
          String device = jobDeviceAt(changed);
          if (device != null) {
            drop(device);
            if (restoreFrom(restorePoint) == null) {
              return fail("paused (" + reason + ") and then lost device " + device + ", the last holding the job's "
                  + "state");
            }
          } else {
            onMembership(changed);
          }
          return Behaviors.same();
        })
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : fail("paused for " + elasticity.pause() + " and no device joined: " + reason))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  // ---- membership -------------------------------------------------------------------------------

  /** A node changed during {@code phase}: a job device's loss is trouble, other nodes change the membership. */
  private Behavior<Command> onNodeChanged(NodeChanged changed, String phase) {
    String device = jobDeviceAt(changed);
    if (device == null) {
      onMembership(changed);
      return Behaviors.same();
    }
    return trouble(changed.address() + " " + changed.how(), phase, List.of(device));
  }

  /** The job device at the address of a node that was lost, if any. */
  private String jobDeviceAt(NodeChanged changed) {
    return changed.lost() ? membership.deviceAt(changed.address()) : null;
  }

  /** A change of a node outside the job. */
  private void onMembership(NodeChanged changed) {
    membership.nodeChanged(changed.address(), changed.lost());
  }

  private Behavior<Command> onListing(DevicesListed listing) {
    membership.listed(listing.listing().getServiceInstances(Device.SERVICE_KEY));
    return Behaviors.same();
  }

  /** A device outside the job described itself: it waits to be adopted at the next committed step. */
  private void noteJoiner(DeviceEvent event) {
    String joining = membership.described(event);
    if (joining != null) {
      client.tell(new JobEvent.Joining(spec.jobId(), joining));
    }
  }

  // ---- endings ----------------------------------------------------------------------------------

  /**
   * The job ends once its shards have stopped: one still running when its node leaves would be handed
   * off and placed again, on devices whose budgets the job no longer frees.
   */
  private Behavior<Command> succeed() {
    timers.cancelAll();
    JobReport report = metrics.report(spec, plan, devices.values(), step);
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    CompletableFuture<?>[] retired = plan.groups().stream()
        .map(g -> LayerShard.retire(context.getSystem(), g.shardId(), timeouts.prepare()).toCompletableFuture())
        .toArray(CompletableFuture[]::new);
    context.pipeToSelf(CompletableFuture.allOf(retired), (done, error) -> new ShardsRetired(error));
    return Behaviors.receive(Command.class)
        .onMessage(ShardsRetired.class, shards -> {
          if (shards.error() != null) {
            context.getLog().info("job {}: not every layer shard confirmed it stopped ({})", spec.jobId(),
                StageFailure.message(shards.error()));
          }
          client.tell(new JobEvent.Succeeded(report));
          return Behaviors.stopped();
        })
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /**
   * This node is shutting down: the coordinator stops without ending the job on its devices, which
   * keep its state; the job continues when submitted again with {@code resume-from = devices}.
   */
  private Behavior<Command> leaving() {
    timers.cancelAll();
    String reason = "the node coordinating the job is leaving the cluster; its devices keep the job's state: submit it"
        + " again with the same id and --resume devices (resume-from = devices) to continue";
    context.getLog().warn("job {}: {}", spec.jobId(), reason);
    client.tell(new JobEvent.Failed(spec.jobId(), reason, metrics == null ? List.of() : metrics.checkpoints()));
    return Behaviors.stopped();
  }

  private Behavior<Command> fail(String reason) {
    timers.cancelAll();
    reason = named(reason);
    context.getLog().error("job {} failed: {}", spec.jobId(), reason);
    endOnDevices();
    client.tell(new JobEvent.Failed(spec.jobId(), reason, metrics == null ? List.of() : metrics.checkpoints()));
    return Behaviors.stopped();
  }

  /** Collectives blame members by address; says which device that is. */
  private String named(String reason) {
    return membership.named(reason);
  }

  private void endOnDevices() {
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    retireShards();
  }

  /** Stops the job's shards: the plan's, and those of an earlier plan that hold the committed step. */
  private void retireShards() {
    if (plan != null) {
      retire(plan.groups());
    }
    if (committed != null) {
      retire(committed.shards());
    }
  }

  private void retire(List<GroupPlan> groups) {
    groups.forEach(g -> LayerShard.shardOf(context.getSystem(), g.shardId()).tell(new LayerShard.Retire(null)));
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
   * behaviour. A device's failure, a lost device's node, or the deadline (naming who did not
   * answer) is trouble: the job recovers or fails.
   */
  private Behavior<Command> awaitingDevices(String what, Duration deadline, Set<String> devicesToHear,
      Function<DeviceEvent, Behavior<Command>> onEvent) {
    long token = startWait(deadline, devicesToHear);
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          DeviceEvent event = from.event();
          if (event instanceof DeviceEvent.Failed failure && !refusedCheckpoint(failure)) {
            return failure.jobId().equals(spec.jobId()) || devices.isEmpty()
                ? trouble("device " + failure.device() + ": " + failure.reason(), what, List.of())
                : Behaviors.same();
          }
          if (event instanceof DeviceEvent.Described d && !awaiting.contains(d.self().path().toString())) {
            noteJoiner(event);
            return Behaviors.same();
          }
          return onEvent.apply(event);
        })
        .onMessage(NodeChanged.class, changed -> onNodeChanged(changed, what))
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> passed.token() != token ? Behaviors.same()
            : trouble(what + ": no answer within " + deadline + " from " + awaitingNames(), what, List.of()))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
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
