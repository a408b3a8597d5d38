package org.dsparse.actors.job;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.dsparse.actors.device.Device;
import org.dsparse.actors.job.JobState.Position;
import org.dsparse.actors.job.JobState.Recovery;
import org.dsparse.actors.job.JobState.Run;
import org.dsparse.actors.job.JobState.Start;
import org.dsparse.actors.job.JobState.Training;
import org.dsparse.actors.job.Waits.Wait;
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
import org.dsparse.protocol.job.Refresh;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.training.trainer.DjlThread;

/**
 * Drives one job through its phases, one behaviour each: discovering its devices, planning (and
 * placing the layer shards), preparing every device, then stepping (each device reports each
 * step), evaluating (every {@code evaluate-every} steps and at each epoch end) and checkpointing
 * at epoch ends; it reports to its client and stops. Every wait has a deadline. Each phase takes
 * what the job has come to as a {@link JobState}: a {@link Start}, a {@link Training} or a
 * {@link Recovery}.
 *
 * <p>Devices come and go. A step that every device completed and that refreshed every layer is
 * committed: the next step asks each device to keep a snapshot of it. When a device is lost (its
 * node becomes unreachable or leaves the cluster, it reports a failure, or it misses a deadline) the
 * job recovers ({@link JobRecovery}): the devices left abandon what they were doing, the lost node
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

  public sealed interface Command {}

  record DevicesListed(Receptionist.Listing listing) implements Command {}

  record FromDevice(DeviceEvent event) implements Command {}

  private record Planned(PlannedJob plan, Throwable error) implements Command {}

  /** Where sharding placed each group's LayerShard: its home device by group id. */
  private record HomesAssigned(Map<String, String> homes, Throwable error) implements Command {}

  /** The deadline of the wait numbered {@code token} passed. */
  record DeadlinePassed(long token) implements Command {}

  /** The ended job's shards have stopped, or {@code error} says why not all did in time. */
  private record ShardsRetired(Throwable error) implements Command {}

  /** A cluster member changed: {@code lost} when it became unreachable or is leaving. */
  record NodeChanged(String address, String how, boolean lost) implements Command {}

  /** This node is leaving the cluster (shut down): the coordinator stops and the devices keep the job. */
  enum SelfLeaving implements Command { INSTANCE }

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  /** The job as submitted; the phases carry it on ({@link JobState#spec}) once a refusal may move its resume folder. */
  private final JobSpec submitted;
  private final String jobId;
  private final int expectedDevices;
  private final Timeouts timeouts;
  private final Config config;
  // The package's for JobRecovery, whose behaviours are this actor's too.
  final Elasticity elasticity;
  final ActorRef<JobEvent> client;
  final ActorRef<DeviceEvent> replies;
  /** Who is in the job, who waits to join, who was lost. */
  final JobMembership membership;
  /** The job's devices by name, in rank order once described (the membership's). */
  final Map<String, DeviceInfo> devices;
  /** What the job measured: it adds up across plans and recoveries, for the report and a failure's checkpoints. */
  final JobMetrics metrics = new JobMetrics(List.of());
  final Waits waits;
  private final JobRecovery recovery;

  public static Behavior<Command> create(JobSpec spec, int expectedDevices, Timeouts timeouts, Elasticity elasticity,
      Config config, ActorRef<JobEvent> client) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new JobCoordinator(ctx, timers, spec, expectedDevices, timeouts, elasticity, config, client).discovering()));
  }

  private JobCoordinator(ActorContext<Command> context, TimerScheduler<Command> timers, JobSpec spec,
      int expectedDevices, Timeouts timeouts, Elasticity elasticity, Config config, ActorRef<JobEvent> client) {
    this.context = context;
    this.timers = timers;
    this.submitted = spec;
    this.jobId = spec.jobId();
    this.expectedDevices = expectedDevices;
    this.timeouts = timeouts;
    this.elasticity = elasticity;
    this.config = config;
    this.client = client;
    this.replies = context.messageAdapter(DeviceEvent.class, FromDevice::new);
    this.membership = new JobMembership(context.getSystem(), context.getLog(), jobId, elasticity.enabled(), replies);
    this.devices = membership.devices();
    this.waits = new Waits(timers);
    this.recovery = new JobRecovery(this, context.getLog(), jobId);
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
    context.getLog().info("job {} ({}): waiting for {} devices", jobId, submitted.mode(), expectedDevices);
    context.getSystem().receptionist().tell(Receptionist.subscribe(Device.SERVICE_KEY,
        context.messageAdapter(Receptionist.Listing.class, DevicesListed::new)));
    Map<String, ActorRef<DeviceCommand>> discovered = new TreeMap<>();
    Wait wait = waits.start(timeouts.discovery(), Set.of());
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
        .onMessage(DeadlinePassed.class, passed -> !wait.endedBy(passed) ? Behaviors.same()
            : fail("only " + discovered.size() + " of " + expectedDevices + " devices joined within "
                + timeouts.discovery() + ": " + discovered.keySet(), List.of()))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Asks the chosen devices (by actor path) to describe themselves. */
  private Behavior<Command> describing(Map<String, ActorRef<DeviceCommand>> chosen) {
    Map<String, DeviceInfo> answered = new TreeMap<>();
    chosen.values().forEach(ref -> ref.tell(new DeviceCommand.Describe(replies)));
    Start start = new Start(submitted, List.of());
    Wait wait = waits.start(timeouts.discovery(), chosen.keySet());
    return awaitingDevices(wait, "describe", start, event -> {
      if (!(event instanceof DeviceEvent.Described d) || !wait.awaits(d.self().path().toString())) {
        return Behaviors.same();
      }
      if (answered.containsKey(d.device())) {
        return fail("two devices are named " + d.device() + "; device names must be unique", List.of());
      }
      wait.heard(d.self().path().toString());
      answered.put(d.device(), new DeviceInfo(d.device(), d.address(), d.budgetBytes(), d.self()));
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      membership.start(chosen, List.copyOf(answered.values()));
      return submitted.resumeFrom().equals(JobSpec.RESUME_FROM_DEVICES) ? recovery.resumingFromDevices(submitted)
          : planning(start);
    });
  }

  // ---- planning ---------------------------------------------------------------------------------

  /** Plans on the DJL thread for a fresh start or a recovery ({@code origin}), then places the layer shards. */
  Behavior<Command> planning(JobState origin) {
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    context.pipeToSelf(DjlThread.submit(() -> JobPlanning.plan(origin.spec(), ordered, config)), Planned::new);
    Wait wait = waits.start(timeouts.prepare(), Set.of());
    return whilePlanning(Behaviors.receive(Command.class)
        .onMessage(Planned.class, planned -> {
          if (planned.error() != null) {
            Throwable cause = planned.error();
            while (cause.getCause() != null && cause.getMessage() == null) {
              cause = cause.getCause();
            }
            return origin instanceof Recovery r ? recovery.paused(r, "no plan fits the devices left ("
                + devices.keySet() + "): " + cause.getMessage()) : fail("planning failed: " + cause.getMessage(),
                origin.placed());
          }
          String prefix = origin instanceof Recovery r ? r.run().groupPrefix() : "";
          PlannedJob plan = planned.plan().prefixed(jobId, prefix);
          context.pipeToSelf(ShardPlacement.assignHomes(context.getSystem(), origin.spec(), devices.values(), plan,
              timeouts.prepare()), HomesAssigned::new);
          return placing(origin instanceof Recovery r ? r.placing(plan.groups()) : new Start(origin.spec(),
              plan.groups()), plan, wait);
        }), origin, wait, "planning");
  }

  /** Sharding places each group of {@code plan}, within planning's deadline; {@code state} retires them on failure. */
  private Behavior<Command> placing(JobState state, PlannedJob plan, Wait wait) {
    return whilePlanning(Behaviors.receive(Command.class)
        .onMessage(HomesAssigned.class, assigned -> {
          PlannedJob placed = ShardPlacement.withHomes(plan, assigned.homes(), assigned.error(), devices.keySet(),
              jobId, context.getLog());
          client.tell(new JobEvent.Planned(jobId, placed.description(), List.copyOf(devices.values()), placed));
          return preparing(state, placed);
        }), state, wait, "placing the layer shards");
  }

  /** What planning and placing share after their own handlers: trouble, the deadline, the membership. */
  private Behavior<Command> whilePlanning(BehaviorBuilder<Command> phase, JobState state, Wait wait, String what) {
    return phase
        .onMessage(FromDevice.class, from -> {
          if (from.event() instanceof DeviceEvent.Failed failure && failure.jobId().equals(jobId)) {
            return recovery.trouble("device " + failure.device() + ": " + failure.reason(), "planning", List.of(),
                state);
          }
          noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> onNodeChanged(changed, "planning", state))
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> !wait.endedBy(passed) ? Behaviors.same()
            : fail(what + " took longer than " + timeouts.prepare(), state.placed()))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  // ---- preparing --------------------------------------------------------------------------------

  /** Prepares every device for {@code plan}: from the start, the resume folder or a recovery's restore point. */
  private Behavior<Command> preparing(JobState origin, PlannedJob plan) {
    JobSpec spec = origin.spec();
    // The protocol's null: a fresh start.
    DeviceCommand.Restore restore = origin instanceof Recovery r
        ? r.restore(devices, plan, elasticity.restoreFromShards()) : null;
    List<DeviceInfo> ordered = List.copyOf(devices.values());
    for (DeviceInfo device : ordered) {
      device.device().tell(new DeviceCommand.Prepare(spec, ordered, plan.assignments().get(device.name()),
          plan.groups(), restore, replies));
    }
    OverlapScheduler overlap = JobPlanning.overlapScheduler(spec, plan);
    List<DeviceEvent.Prepared> prepared = new ArrayList<>();
    Map<String, String> refused = new TreeMap<>();
    Wait wait = waits.start(timeouts.prepare(), devices.keySet());
    // A recovery stands where its devices are prepared from as soon as one is: a recovery from it
    // has nothing to train again.
    Supplier<JobState> state = () -> origin instanceof Recovery r && !prepared.isEmpty()
        ? r.preparedAt(prepared.get(prepared.size() - 1)) : origin;
    return awaitingDevices(wait, "prepare", state, event -> {
      if (event instanceof DeviceEvent.Failed failure && refusedCheckpoint(failure, origin)
          && wait.heard(failure.device())) {
        refused.put(failure.device(), failure.reason());
      } else if (event instanceof DeviceEvent.Prepared ready && wait.heard(ready.device())) {
        prepared.add(ready);
      } else {
        return Behaviors.same();
      }
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      if (!refused.isEmpty()) {
        return resumingFromThePreviousEpoch(spec, plan, refused);
      }
      int stepsPerEpoch = prepared.stream().mapToInt(DeviceEvent.Prepared::stepsPerEpoch)
          .reduce(Integer.MAX_VALUE, Math::min);
      if (spec.maxStepsPerEpoch() > 0) {
        stepsPerEpoch = Math.min(stepsPerEpoch, spec.maxStepsPerEpoch());
      }
      if (stepsPerEpoch <= 0) {
        return fail("a device's data shard holds less than one batch of " + spec.batch(),
            origin instanceof Recovery r ? r.placing(plan.groups()).placed() : plan.groups());
      }
      if (origin instanceof Recovery r) {
        // How each device without the committed state took it goes in the recovery's report.
        Recovery taken = r;
        for (DeviceEvent.Prepared p : prepared) {
          taken = p.taken().fetched() ? taken.taking(p.device(), p.taken()) : taken;
        }
        return trainingAgain(taken, new Training(r.run().at(r.from()), plan, overlap, stepsPerEpoch, true));
      }
      Map<String, String> startsAt = new TreeMap<>();
      prepared.forEach(p -> startsAt.put(p.device(), "epoch " + (p.epoch() + 1) + " after step " + p.step()));
      if (startsAt.values().stream().distinct().count() > 1) {
        return fail("the devices' checkpoints in " + spec.resumeFrom() + " are from different points: " + startsAt,
            plan.groups());
      }
      DeviceEvent.Prepared last = prepared.get(prepared.size() - 1);
      Position from = new Position(last.step(), last.epoch(), 0);
      if (from.epoch() >= spec.epochs()) {
        return fail("the checkpoints in " + spec.resumeFrom() + " end epoch " + from.epoch() + " and the job has "
            + spec.epochs() + " epochs: nothing is left to train (raise epochs to go on)", plan.groups());
      }
      if (!spec.resumeFrom().isEmpty()) {
        context.getLog().info("job {}: resuming from {} at epoch {}, after step {}", jobId, spec.resumeFrom(),
            from.epoch() + 1, from.step());
      }
      context.getLog().info("job {}: {} devices ready, {} epochs of {} steps", jobId,
          devices.size(), spec.epochs(), stepsPerEpoch);
      Run run = new Run(spec, "", 0, System.nanoTime(), from, from, 0, plan.groups());
      return stepping(new Training(run, plan, overlap, stepsPerEpoch, true));
    });
  }

  /** A device could not resume from its file in the resume directory (damaged, missing, another plan). */
  private static boolean refusedCheckpoint(DeviceEvent.Failed failure, JobState state) {
    return !(state instanceof Recovery) && ResumeFolder.refused(state.spec(), failure);
  }

  /**
   * Some devices refused their checkpoint of epoch N (every device answered, so no answer of this
   * round is still on its way): the job resumes from epoch N-1's checkpoints instead, if there are.
   */
  private Behavior<Command> resumingFromThePreviousEpoch(JobSpec spec, PlannedJob plan, Map<String, String> refused) {
    Optional<Path> before = ResumeFolder.previousEpoch(spec.resumeFrom());
    if (before.isEmpty()) {
      return fail("cannot resume from " + spec.resumeFrom() + ": " + refused, plan.groups());
    }
    Path previous = before.get();
    context.getLog().warn("job {}: checkpoints in {} refused ({}); resuming from the previous epoch's, {}",
        jobId, spec.resumeFrom(), refused, previous);
    return preparing(new Start(spec.withResumeFrom(previous.toString()), plan.groups()), plan);
  }

  /** Every device is prepared from the committed step: the recovery is over. */
  private Behavior<Command> trainingAgain(Recovery recovered, Training training) {
    Position at = training.at();
    JobReport.Recovery done = recovered.report().trainingAgain(System.currentTimeMillis(),
        List.copyOf(devices.keySet()));
    metrics.recovered(done);
    NodeMetrics.get(context.getSystem()).jobRecovered(jobId, done.lost().size(), done.joined().size());
    client.tell(new JobEvent.Recovered(jobId, done));
    context.getLog().info("job {}: training again from step {} on {} devices {}, {} s after the change ({} steps of "
        + "{} per epoch done in epoch {})", jobId, at.step(), devices.size(), devices.keySet(),
        String.format(Locale.ROOT, "%.1f", (done.trainingAgainAtMillis() - done.detectedAtMillis()) / 1e3),
        at.stepInEpoch(), training.stepsPerEpoch(), at.epoch() + 1);
    // A committed epoch end whose evaluation did not finish evaluates first.
    return training.epochDone() ? evaluating(training) : stepping(training);
  }

  // ---- stepping, evaluating, checkpointing ------------------------------------------------------

  /** Runs the next step on every device. */
  private Behavior<Command> stepping(Training training) {
    JobSpec spec = training.spec();
    Position at = training.at();
    boolean lastOfEpoch = training.lastOfEpoch();
    boolean average = lastOfEpoch || (at.step() + 1) % spec.averagingInterval() == 0;
    boolean evaluated = lastOfEpoch || (spec.evaluateEvery() > 0 && (at.step() + 1) % spec.evaluateEvery() == 0);
    Refresh refresh = refresh(spec, at.step(), lastOfEpoch, evaluated);
    boolean snapshot = training.snapshotNext() && elasticity.enabled();
    List<Integer> cuts = training.overlap().cutsFor(at.step());
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.RunStep(jobId, at.epoch(), at.stepInEpoch(), at.step(), average, refresh,
          evaluated, cuts, snapshot, replies));
    }
    Map<String, OverlapScheduler.SegmentTimes> segments = new TreeMap<>();
    Map<String, StepMetrics> reported = new TreeMap<>();
    Wait wait = waits.start(timeouts.step(), devices.keySet());
    return awaitingDevices(wait, "step " + at.step(), training, event -> {
      if (!(event instanceof DeviceEvent.StepCompleted completed) || completed.step() != at.step()
          || !wait.heard(completed.device())) {
        return Behaviors.same();
      }
      metrics.deviceStepped(completed.device(), completed.metrics());
      reported.put(completed.device(), completed.metrics());
      segments.put(completed.device(), segmentTimes(completed.metrics().segments()));
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      training.overlap().observe(at.step(), segments).ifPresent(line -> {
        context.getLog().info("job {}: {}", jobId, line);
        metrics.overlapScheduled(line);
      });
      double stepMillis = wait.elapsedMillis();
      double loss = metrics.stepEnded(stepMillis);
      // With a refresh every device holds every layer as it now stands: the step is committed, and
      // the shards of an earlier plan, which held the step before, are done with.
      // A compressed refresh leaves the receivers' copies behind the weights: not committed.
      boolean committed = refresh == Refresh.EXACT;
      Training next = training.stepped(committed);
      if (committed) {
        retireShards(training.run().shards().stream().filter(g -> !training.plan().groups().contains(g)).toList());
      }
      long step = next.at().step();
      NodeMetrics.get(context.getSystem()).jobStepped(jobId, step, loss, stepMillis / 1e3, devices.size());
      long totalSteps = next.totalSteps();
      double elapsed = (System.nanoTime() - next.run().startedNanos()) / 1e9;
      client.tell(new JobEvent.StepReported(jobId, at.epoch(), step, totalSteps, loss, stepMillis,
          elapsed / step * (totalSteps - step), reported));
      if (evaluated) {
        return evaluating(next);
      }
      return committed && recovery.adoptsNow() ? recovery.adopting("step " + step, next) : stepping(next);
    });
  }

  /**
   * What step {@code step} refreshes: every {@code refresh-interval}-th step and each epoch's last
   * refresh; with refresh compression, every {@code exact-every}-th refresh, each epoch's last and each
   * evaluated step's are exact (the devices evaluate and save the model they hold), the others compressed.
   */
  static Refresh refresh(JobSpec spec, long step, boolean lastOfEpoch, boolean evaluated) {
    if (!lastOfEpoch && (step + 1) % spec.refreshInterval() != 0) {
      return Refresh.NONE;
    }
    JobSpec.RefreshCompression compression = spec.refreshCompression();
    if (!compression.enabled() || lastOfEpoch || evaluated) {
      return Refresh.EXACT;
    }
    long refreshes = (step + 1) / spec.refreshInterval();
    return refreshes % compression.exactEvery() == 0 ? Refresh.EXACT : Refresh.COMPRESSED;
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
  private Behavior<Command> evaluating(Training training) {
    int shard = 0;
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.Evaluate(jobId, shard++, devices.size(), replies));
    }
    long[] counts = new long[2];
    long step = training.at().step();
    Wait wait = waits.start(timeouts.evaluate(), devices.keySet());
    return awaitingDevices(wait, "evaluate", training, event -> {
      if (!(event instanceof DeviceEvent.Evaluated result) || !wait.heard(result.device())) {
        return Behaviors.same();
      }
      counts[0] += result.correct();
      counts[1] += result.total();
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      double accuracy = counts[1] == 0 ? 0 : (double) counts[0] / counts[1];
      metrics.evaluated(step, accuracy);
      NodeMetrics.get(context.getSystem()).jobEvaluated(jobId, accuracy);
      client.tell(new JobEvent.Evaluated(jobId, step, accuracy));
      if (!training.epochDone()) {
        context.getLog().info("job {}: test accuracy {} after {} steps", jobId, accuracy, step);
        return training.atCommittedStep() && recovery.adoptsNow() ? recovery.adopting("step " + step, training)
            : stepping(training);
      }
      double loss = metrics.epochEnded(accuracy);
      return training.spec().checkpointDir().isEmpty() ? epochEnded(training, accuracy, loss, null)
          : checkpointing(training, accuracy, loss);
    });
  }

  /**
   * Every device saves its checkpoint of the epoch, {@code checkpoint-dir/JOB/epoch-N/DEVICE.ckpt} on
   * its own disk: the whole model (the same on every device after the epoch's refresh), where
   * training stands, and the optimizer state of what it updates, so that the job can resume from that
   * directory. The file of the device on this node (or the first) is the one reported.
   */
  private Behavior<Command> checkpointing(Training training, double accuracy, double loss) {
    String self = Cluster.get(context.getSystem()).selfMember().address().toString();
    DeviceInfo reported = devices.values().stream().filter(d -> d.address().equals(self)).findFirst()
        .orElse(devices.values().iterator().next());
    Position at = training.at();
    Path dir = Path.of(training.spec().checkpointDir(), jobId, "epoch-" + (at.epoch() + 1));
    for (DeviceInfo device : devices.values()) {
      device.device().tell(new DeviceCommand.SaveCheckpoint(jobId, dir.resolve(device.name() + ".ckpt").toString(),
          at.epoch() + 1, at.step(), training.plan().description(), replies));
    }
    String[] reportedPath = new String[1];
    Wait wait = waits.start(timeouts.evaluate(), devices.keySet());
    return awaitingDevices(wait, "checkpoint", training, event -> {
      if (!(event instanceof DeviceEvent.CheckpointSaved saved) || !wait.heard(saved.device())) {
        return Behaviors.same();
      }
      if (saved.device().equals(reported.name())) {
        reportedPath[0] = saved.path();
      }
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      metrics.checkpointed(reportedPath[0]);
      return epochEnded(training, accuracy, loss, reportedPath[0]);
    });
  }

  private Behavior<Command> epochEnded(Training training, double accuracy, double loss, String checkpoint) {
    client.tell(new JobEvent.EpochEvaluated(jobId, training.at().epoch(), accuracy, loss, checkpoint));
    Training next = training.epochEnded();
    int epoch = next.at().epoch();
    if (epoch >= next.spec().epochs()) {
      return succeed(next);
    }
    return recovery.adoptsNow() ? recovery.adopting("epoch " + epoch + " end", next) : stepping(next);
  }

  // ---- membership -------------------------------------------------------------------------------

  /** A node changed during {@code phase}: a job device's loss is trouble, other nodes change the membership. */
  private Behavior<Command> onNodeChanged(NodeChanged changed, String phase, JobState state) {
    String device = jobDeviceAt(changed);
    if (device == null) {
      onMembership(changed);
      return Behaviors.same();
    }
    return recovery.trouble(changed.address() + " " + changed.how(), phase, List.of(device), state);
  }

  /** The job device at the address of a node that was lost, if any. */
  String jobDeviceAt(NodeChanged changed) {
    return changed.lost() ? membership.deviceAt(changed.address()) : null;
  }

  /** A change of a node outside the job. */
  void onMembership(NodeChanged changed) {
    membership.nodeChanged(changed.address(), changed.lost());
  }

  Behavior<Command> onListing(DevicesListed listing) {
    membership.listed(listing.listing().getServiceInstances(Device.SERVICE_KEY));
    return Behaviors.same();
  }

  /** A device outside the job described itself: it waits to be adopted at the next committed step. */
  void noteJoiner(DeviceEvent event) {
    String joining = membership.described(event);
    if (joining != null) {
      client.tell(new JobEvent.Joining(jobId, joining));
    }
  }

  // ---- endings ----------------------------------------------------------------------------------

  /**
   * The job ends once its shards have stopped: one still running when its node leaves would be handed
   * off and placed again, on devices whose budgets the job no longer frees.
   */
  private Behavior<Command> succeed(Training training) {
    timers.cancelAll();
    JobReport report = metrics.report(training.spec(), training.plan(), devices.values(), training.at().step());
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(jobId)));
    CompletableFuture<?>[] retired = training.placed().stream()
        .map(g -> LayerShard.retire(context.getSystem(), g.shardId(), timeouts.prepare()).toCompletableFuture())
        .toArray(CompletableFuture[]::new);
    context.pipeToSelf(CompletableFuture.allOf(retired), (done, error) -> new ShardsRetired(error));
    return Behaviors.receive(Command.class)
        .onMessage(ShardsRetired.class, shards -> {
          if (shards.error() != null) {
            context.getLog().info("job {}: not every layer shard confirmed it stopped ({})", jobId,
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
  Behavior<Command> leaving() {
    timers.cancelAll();
    String reason = "the node coordinating the job is leaving the cluster; its devices keep the job's state: submit it"
        + " again with the same id and --resume devices (resume-from = devices) to continue";
    context.getLog().warn("job {}: {}", jobId, reason);
    client.tell(new JobEvent.Failed(jobId, reason, metrics.checkpoints()));
    return Behaviors.stopped();
  }

  /** Ends the job on its devices, retires the layer shards of {@code placed}, its latest plan's groups, and fails. */
  Behavior<Command> fail(String reason, List<GroupPlan> placed) {
    timers.cancelAll();
    reason = membership.named(reason); // collectives blame members by address
    context.getLog().error("job {} failed: {}", jobId, reason);
    devices.values().forEach(d -> d.device().tell(new DeviceCommand.EndJob(jobId)));
    retireShards(placed);
    client.tell(new JobEvent.Failed(jobId, reason, metrics.checkpoints()));
    return Behaviors.stopped();
  }

  void retireShards(List<GroupPlan> groups) {
    groups.forEach(g -> LayerShard.shardOf(context.getSystem(), g.shardId()).tell(new LayerShard.Retire(null)));
  }

  // ---- waits ------------------------------------------------------------------------------------

  Behavior<Command> awaitingDevices(Wait wait, String what, JobState state,
      Function<DeviceEvent, Behavior<Command>> onEvent) {
    return awaitingDevices(wait, what, () -> state, onEvent);
  }

  /**
   * A phase that waits for every device of {@code wait} (names, or actor paths before the devices
   * are described) to answer; {@code onEvent} takes their events and answers the next behaviour. A
   * device's failure, a lost device's node, or the deadline (naming who did not answer) is trouble:
   * the job, as {@code state} has it then, recovers or fails.
   */
  private Behavior<Command> awaitingDevices(Wait wait, String what, Supplier<JobState> state,
      Function<DeviceEvent, Behavior<Command>> onEvent) {
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          DeviceEvent event = from.event();
          if (event instanceof DeviceEvent.Failed failure && !refusedCheckpoint(failure, state.get())) {
            return failure.jobId().equals(jobId) || devices.isEmpty()
                ? recovery.trouble("device " + failure.device() + ": " + failure.reason(), what, List.of(),
                    state.get())
                : Behaviors.same();
          }
          if (event instanceof DeviceEvent.Described d && !wait.awaits(d.self().path().toString())) {
            noteJoiner(event);
            return Behaviors.same();
          }
          return onEvent.apply(event);
        })
        .onMessage(NodeChanged.class, changed -> onNodeChanged(changed, what, state.get()))
        .onMessage(DevicesListed.class, this::onListing)
        .onMessage(DeadlinePassed.class, passed -> !wait.endedBy(passed) ? Behaviors.same()
            : recovery.trouble(what + ": no answer within " + wait.deadline() + " from " + wait.names(devices), what,
                List.of(), state.get()))
        .onMessageEquals(SelfLeaving.INSTANCE, this::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }
}
