package org.dsparse.actors.device;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.metrics.NodeMetrics;
import org.dsparse.actors.mode.TrainingModes;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.CommittedState;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.actors.step.StepResult;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.protocol.wire.WireTraffic;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.trainer.DjlThread;

/**
 * One device of the cluster. It announces itself under {@link #SERVICE_KEY}, and for a job holds a
 * full model replica and its data shard (the {@link ModeRuntime} its job's {@link TrainingMode}
 * prepares), forms its process groups and runs each step with the mode's {@link DeviceStep}: the actor sequences steps, owns the groups and the
 * shards it keeps, and turns each step's outcome into one {@link DeviceEvent.StepCompleted} or one
 * failure naming the group and member. DJL work runs on the JVM's DJL thread and comes back as
 * messages, so the actor never blocks.
 */
public final class Device extends AbstractBehavior<Device.Command> {
  /** Where coordinators find devices. */
  public static final ServiceKey<DeviceCommand> SERVICE_KEY =
      ServiceKey.create(DeviceCommand.class, "dsparse-device");

  /** The actor's messages: remote commands plus its own continuations. */
  public sealed interface Command {}

  private record Remote(DeviceCommand command) implements Command {}

  /** The state a re-planned job continues from is here (null for a fresh start): build the runtime. */
  private record StateReady(DeviceCommand.Prepare prepare, CommittedState state, Throwable error) implements Command {}

  private record RuntimeReady(DeviceCommand.Prepare prepare, ModeRuntime runtime, Throwable error)
      implements Command {}

  private record StepFinished(DeviceCommand.RunStep command, StepResult result, Throwable error)
      implements Command {}

  private record Answered(DeviceEvent event, ActorRef<DeviceEvent> replyTo) implements Command {}

  /** A cluster member became unreachable or is leaving. */
  private record NodeLost(String address, String how) implements Command {}

  private final ActorContext<Command> context;
  private final DeviceSettings settings;
  private final CollectiveSettings collectiveSettings;
  private final Compute compute;
  private final String address;
  /** This device's address for commands from other nodes. */
  private final ActorRef<DeviceCommand> commands;
  private Job job;
  /** The step in flight, if any. */
  private DeviceCommand.RunStep running;
  /** The Prepare being carried out, if any: a later one, an abandon or the job's end replaces it. */
  private DeviceCommand.Prepare preparing;
  /**
   * The job's state at its last committed step, which a re-plan rolls back to; it outlives the
   * job's runtime so that a re-plan can rebuild from it. Written on the DJL thread (where the
   * snapshot is taken, in order with the steps' model work), read by the actor.
   */
  private final AtomicReference<CommittedState> committed = new AtomicReference<>();
  /** How long a device waits for another's model when it joins a running job. */
  private static final Duration FETCH_TIMEOUT = Duration.ofMinutes(2);

  /** A device whose steps' model work runs on the DJL thread. */
  public static Behavior<Command> create(DeviceSettings settings, CollectiveSettings collectiveSettings) {
    return create(settings, collectiveSettings, Compute.DJL_THREAD);
  }

  /** A device whose steps' model work runs on {@code compute} (the simulator slows it down). */
  public static Behavior<Command> create(DeviceSettings settings, CollectiveSettings collectiveSettings,
      Compute compute) {
    return Behaviors.setup(ctx -> new Device(ctx, settings, collectiveSettings, compute));
  }

  private Device(ActorContext<Command> context, DeviceSettings settings,
      CollectiveSettings collectiveSettings, Compute compute) {
    super(context);
    this.context = context;
    this.settings = settings;
    this.collectiveSettings = collectiveSettings;
    this.compute = compute;
    this.address = Cluster.get(context.getSystem()).selfMember().address().toString();
    this.commands = context.messageAdapter(DeviceCommand.class, Remote::new);
    context.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, commands));
    var subscriptions = Cluster.get(context.getSystem()).subscriptions();
    subscriptions.tell(Subscribe.create(context.messageAdapter(ClusterEvent.ReachabilityEvent.class,
        event -> new NodeLost(event.member().address().toString(),
            event instanceof ClusterEvent.UnreachableMember ? "became unreachable" : "")),
        ClusterEvent.ReachabilityEvent.class));
    subscriptions.tell(Subscribe.create(context.messageAdapter(ClusterEvent.MemberRemoved.class,
        event -> new NodeLost(event.member().address().toString(), "was removed from the cluster")),
        ClusterEvent.MemberRemoved.class));
    // Shard placement knows this device's budget from the start; jobs add what training reserves.
    DeviceDirectory.get(context.getSystem()).announce(
        new DeviceEntry(settings.name(), address, settings.budgetBytes(), 0));
    context.getLog().info("device {} at {} with a budget of {} MiB", settings.name(), address,
        settings.budgetBytes() >> 20);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Remote.class, this::onRemote)
        .onMessage(StateReady.class, this::onStateReady)
        .onMessage(RuntimeReady.class, this::onRuntimeReady)
        .onMessage(StepFinished.class, this::onStepFinished)
        .onMessage(Answered.class, this::onAnswered)
        .onMessage(NodeLost.class, this::onNodeLost)
        .build();
  }

  private Behavior<Command> onRemote(Remote remote) {
    DeviceCommand command = remote.command();
    if (command instanceof DeviceCommand.Describe describe) {
      describe.replyTo().tell(
          new DeviceEvent.Described(settings.name(), address, settings.budgetBytes(), commands));
    } else if (command instanceof DeviceCommand.Prepare prepare) {
      onPrepare(prepare);
    } else if (command instanceof DeviceCommand.RunStep run) {
      onRunStep(run);
    } else if (command instanceof DeviceCommand.Evaluate evaluate) {
      onEvaluate(evaluate);
    } else if (command instanceof DeviceCommand.SaveCheckpoint save) {
      onSaveCheckpoint(save);
    } else if (command instanceof DeviceCommand.EndJob end) {
      onEndJob(end);
    } else if (command instanceof DeviceCommand.Abandon abandon) {
      onAbandon(abandon);
    } else if (command instanceof DeviceCommand.FetchState fetch) {
      onFetchState(fetch);
    }
    return this;
  }

  // ---- job set-up -------------------------------------------------------------------------------

  private void onPrepare(DeviceCommand.Prepare prepare) {
    if (rankOf(prepare.devices()) < 0) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "this device is not in the job's device list"));
      return;
    }
    CompletionStage<CommittedState> state = stateToContinueFrom(prepare.spec().jobId(), prepare.restore());
    preparing = prepare;
    if (job != null) {
      endJob(); // after a live capture was queued: the runtime closes behind it
    }
    context.pipeToSelf(state, (restored, error) -> new StateReady(prepare, restored, error));
  }

  /**
   * The job's state at {@code restore}'s step: this device's snapshot of it, its live model when it
   * has done exactly those steps and nothing since (a device adopted at a step boundary), or the
   * model fetched from the restore's source device. Null without a restore.
   */
  private CompletionStage<CommittedState> stateToContinueFrom(String jobId, DeviceCommand.Restore restore) {
    CommittedState kept = committed.get();
    if (restore == null) {
      committed.set(null);
      return CompletableFuture.completedFuture(null);
    }
    if (kept != null && kept.isOf(jobId, restore.step())) {
      return CompletableFuture.completedFuture(kept);
    }
    if (job != null && job.jobId.equals(jobId) && job.live != null && job.live.step() == restore.step()) {
      ModeRuntime runtime = job.runtime;
      DeviceEvent.HeldState live = job.live;
      return DjlThread.submit(() -> {
        CommittedState taken = runtime.capture(live.step(), live.epoch(), live.stepInEpoch());
        committed.set(taken);
        return taken;
      });
    }
    if (restore.sourceDevice() == null || restore.source().equals(settings.name())) {
      return CompletableFuture.failedFuture(new IllegalStateException("this device holds no state of job " + jobId
          + " after step " + restore.step() + " and was given no device to fetch it from"));
    }
    context.getLog().info("job {}: fetching the model after step {} from device {}", jobId, restore.step(),
        restore.source());
    CompletableFuture<CommittedState> fetched = new CompletableFuture<>();
    context.spawnAnonymous(StateFetcher.create(restore, jobId, FETCH_TIMEOUT, fetched));
    return fetched;
  }

  private Behavior<Command> onStateReady(StateReady ready) {
    DeviceCommand.Prepare prepare = ready.prepare();
    if (prepare != preparing) {
      return this;
    }
    if (ready.error() != null) {
      preparing = null;
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "no state to continue from: " + describe(ready.error())));
      return this;
    }
    if (ready.state() != null) {
      committed.set(ready.state());
    }
    int rank = rankOf(prepare.devices());
    TrainingMode mode = TrainingModes.of(prepare.spec());
    Preparation preparation;
    try {
      preparation = new Preparation(prepare.spec(), prepare.devices(), settings.name(), prepare.assignment(),
          prepare.groups(), settings.dataSource(prepare.spec().data(), "job " + prepare.spec().jobId() + " data"),
          settings.measureMemory(), prepare.restore(), ready.state());
    } catch (IllegalArgumentException e) {
      preparing = null;
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "set-up failed: " + describe(e)));
      return this;
    }
    context.getLog().info("job {}: preparing as device {} of {}, updating {} layers{}{}",
        prepare.spec().jobId(), rank, prepare.devices().size(), prepare.assignment().updatedLayers().size(),
        mode.role(preparation), prepare.restore() == null ? "" : ", from step " + prepare.restore().step());
    context.pipeToSelf(DjlThread.submit(() -> mode.prepare(preparation)),
        (runtime, error) -> new RuntimeReady(prepare, runtime, error));
    return this;
  }

  private int rankOf(List<DeviceInfo> devices) {
    for (int i = 0; i < devices.size(); i++) {
      if (devices.get(i).name().equals(settings.name())) {
        return i;
      }
    }
    return -1;
  }

  private Behavior<Command> onRuntimeReady(RuntimeReady ready) {
    DeviceCommand.Prepare prepare = ready.prepare();
    if (prepare != preparing) {
      // Replaced by a later Prepare, or the job abandoned or ended meanwhile.
      if (ready.runtime() != null) {
        DjlThread.submit(() -> {
          ready.runtime().close();
          return null;
        });
      }
      return this;
    }
    preparing = null;
    if (ready.error() != null) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "set-up failed: " + describe(ready.error())));
      return this;
    }
    try {
      job = new Job(prepare, ready.runtime());
    } catch (RuntimeException e) {
      DjlThread.submit(() -> {
        ready.runtime().close();
        return null;
      });
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "cannot form its process groups: " + describe(e)));
      return this;
    }
    job.trafficAtLastStep = WireTraffic.get(context.getSystem()).snapshot();
    prepare.replyTo().tell(new DeviceEvent.Prepared(settings.name(), ready.runtime().stepsPerEpoch(),
        ready.runtime().startEpoch(), ready.runtime().startStep()));
    return this;
  }

  /** This device's part of a job: its runtime, its process groups and its step. */
  private final class Job {
    final String jobId;
    final ModeRuntime runtime;
    final DeviceGroups groups;
    final DeviceStep pipeline;
    final List<ActorRef<ProcessGroup.Command>> groupActors = new ArrayList<>();
    /** Shard ids of the groups whose shard this device keeps current, by group id. */
    final Map<String, String> keptShards = new HashMap<>();
    /** The cluster address of the job's coordinator; empty when it runs on this node. */
    final String coordinator;
    /** The network counters when the previous step ended (or the job was ready). */
    Map<String, WireTraffic.Bytes> trafficAtLastStep;
    /** Where the model stands while no step ran since the last one completed (or the job was ready); else null. */
    DeviceEvent.HeldState live;
    /** The job abandoned its step: its groups are stopped until the next Prepare. */
    boolean abandoned;

    Job(DeviceCommand.Prepare prepare, ModeRuntime runtime) {
      this.jobId = prepare.spec().jobId();
      this.runtime = runtime;
      var coordinatorAddress = prepare.replyTo().path().address();
      this.coordinator = coordinatorAddress.hasGlobalScope() ? coordinatorAddress.toString() : "";
      this.live = runtime.start();
      Map<String, String> addresses = new LinkedHashMap<>();
      prepare.devices().forEach(d -> addresses.put(d.name(), d.address()));
      this.groups = runtime.groups(settings.name(), jobId, prepare.groups(), List.copyOf(addresses.keySet()));
      Map<String, ActorRef<ProcessGroup.Command>> actors = new HashMap<>();
      for (DeviceGroups.Collective collective : groups.collectives().values()) {
        ActorRef<ProcessGroup.Command> actor = spawnGroup(collective, addresses);
        actors.put(collective.id(), actor);
        groupActors.add(actor);
      }
      prepare.groups().stream().filter(g -> groups.keptShards().contains(g.groupId()))
          .forEach(g -> keptShards.put(g.groupId(), g.shardId()));
      // A collective's members fail it at its deadline; the ask waits longer, as a last resort.
      Duration answerWithin = collectiveSettings.deadline().multipliedBy(2).plusSeconds(10);
      this.pipeline = runtime.pipeline(groups, Collectives.of(actors, answerWithin, context.getSystem().scheduler()),
          compute);
      pipeline.denseGroups().forEach((group, why) -> context.getLog().info(
          "job {}: group {} sends its gradients uncompressed ({}): compression {} cannot reach its ratio there",
          jobId, group, why, prepare.spec().compression().kind()));
    }

    private ActorRef<ProcessGroup.Command> spawnGroup(DeviceGroups.Collective collective,
        Map<String, String> addresses) {
      List<org.apache.pekko.actor.Address> memberAddresses = new ArrayList<>();
      for (String member : collective.members()) {
        String memberAddress = addresses.get(member);
        if (memberAddress == null) {
          throw new IllegalArgumentException("group " + collective.id() + " names device " + member
              + ", which is not in the job");
        }
        memberAddresses.add(AddressFromURIString.parse(memberAddress));
      }
      GroupSpec spec = new GroupSpec(collective.id(), memberAddresses);
      return context.spawn(ProcessGroup.create(spec, collectiveSettings), ProcessGroup.actorName(collective.id()));
    }

    void stopGroups() {
      groupActors.forEach(context::stop);
      groupActors.clear();
    }

    void stop() {
      stopGroups();
      DjlThread.submit(() -> {
        runtime.close();
        return null;
      });
    }
  }

  // ---- one step ---------------------------------------------------------------------------------

  private void onRunStep(DeviceCommand.RunStep run) {
    if (job == null || !job.jobId.equals(run.jobId())) {
      run.replyTo().tell(failed(run.jobId(), "no such job is prepared on this device"));
      return;
    }
    if (running != null) {
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + " asked while step "
          + running.step() + " is still running"));
      return;
    }
    if (job.abandoned) {
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + " asked after the job abandoned its step; "
          + "it needs a new plan first"));
      return;
    }
    running = run;
    job.live = null;
    if (run.snapshot()) {
      // Queued before the step's model work, on the same thread: the model as the previous step left it.
      ModeRuntime runtime = job.runtime;
      DjlThread.submit(() -> {
        committed.set(runtime.capture(run.step(), run.epoch(), run.stepInEpoch()));
        return null;
      });
    }
    context.pipeToSelf(job.pipeline.run(run.epoch(), run.step(), run.average(), run.refresh(), run.evaluated(),
        run.overlapCuts()),
        (result, error) -> new StepFinished(run, result, error));
  }

  private Behavior<Command> onStepFinished(StepFinished finished) {
    DeviceCommand.RunStep run = finished.command();
    if (running != run) {
      return this; // the job ended or was replaced while the step ran
    }
    running = null;
    if (finished.error() == null) {
      job.live = new DeviceEvent.HeldState(run.step() + 1, run.epoch(), run.stepInEpoch() + 1,
          job.runtime.updatedSlices());
    }
    if (finished.error() != null) {
      String reason = StageFailure.message(finished.error());
      context.getLog().warn("job {} step {}: {}", run.jobId(), run.step(), reason);
      NodeMetrics.get(context.getSystem()).deviceFailed(run.jobId(), settings.name());
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + ": " + reason));
      return this;
    }
    StepResult result = finished.result();
    result.keptShardWeights().forEach((group, weights) ->
        LayerShard.storeWeights(context.getSystem(), job.keptShards.get(group), run.step(), weights));
    long baseline = job.runtime.baselineRss();
    // Resident growth is this device's only when it has the process to itself.
    long current = settings.measureMemory() ? ProcessMemory.residentBytes() - baseline : 0;
    long peak = settings.measureMemory() ? ProcessMemory.peakResidentBytes() - baseline : 0;
    StepMetrics metrics = new StepMetrics(result.loss(), result.computeNanos() / 1e6,
        result.allReduceNanos() / 1e6, result.broadcastNanos() / 1e6, result.collectiveWallNanos() / 1e6,
        result.allReduceBytes(), result.broadcastBytes(), wireSinceLastStep(), current, peak, result.segments(),
        result.groupTimes());
    NodeMetrics.get(context.getSystem()).deviceStepped(run.jobId(), settings.name(), metrics);
    run.replyTo().tell(new DeviceEvent.StepCompleted(settings.name(), run.step(), metrics));
    return this;
  }

  /** What the transports counted since the previous step ended, by the plan's groups and kinds. */
  private List<WireBytes> wireSinceLastStep() {
    Map<String, WireTraffic.Bytes> now = WireTraffic.get(context.getSystem()).snapshot();
    Map<String, WireTraffic.Bytes> delta = WireTraffic.between(job.trafficAtLastStep, now);
    job.trafficAtLastStep = now;
    List<WireBytes> wire = new ArrayList<>();
    delta.forEach((id, bytes) -> {
      DeviceGroups.Collective collective = job.groups.collectives().get(id);
      wire.add(collective != null
          ? new WireBytes(collective.group().groupId(), collective.kind(), bytes.sent(), bytes.received())
          : new WireBytes("", id.equals(WireTraffic.SHARD) ? WireBytes.SHARD : WireBytes.CONTROL, bytes.sent(),
              bytes.received()));
    });
    return wire;
  }

  // ---- evaluation, checkpoints, end -------------------------------------------------------------

  private void onEvaluate(DeviceCommand.Evaluate evaluate) {
    if (job == null || !job.jobId.equals(evaluate.jobId())) {
      evaluate.replyTo().tell(failed(evaluate.jobId(), "no such job is prepared on this device"));
      return;
    }
    ModeRuntime runtime = job.runtime;
    answerLater(evaluate.replyTo(), evaluate.jobId(), () -> {
      long[] result = runtime.evaluate(evaluate.shard(), evaluate.shards());
      return new DeviceEvent.Evaluated(settings.name(), result[0], result[1]);
    });
  }

  private void onSaveCheckpoint(DeviceCommand.SaveCheckpoint save) {
    if (job == null || !job.jobId.equals(save.jobId())) {
      save.replyTo().tell(failed(save.jobId(), "no such job is prepared on this device"));
      return;
    }
    ModeRuntime runtime = job.runtime;
    answerLater(save.replyTo(), save.jobId(), () -> {
      runtime.saveCheckpoint(Path.of(save.path()), save.nextEpoch(), save.step(), save.plan());
      return new DeviceEvent.CheckpointSaved(settings.name(), save.path());
    });
  }

  private void answerLater(ActorRef<DeviceEvent> replyTo, String jobId,
      java.util.concurrent.Callable<DeviceEvent> work) {
    CompletionStage<DeviceEvent> answer = DjlThread.submit(work);
    context.pipeToSelf(answer, (event, error) ->
        new Answered(event != null ? event : failed(jobId, describe(error)), replyTo));
  }

  private Behavior<Command> onAnswered(Answered answered) {
    answered.replyTo().tell(answered.event());
    return this;
  }

  /**
   * Stops the step in flight and the job's groups, then answers once the model work queued so far
   * has run (stages not yet started fail), with the states this device can continue from.
   */
  private void onAbandon(DeviceCommand.Abandon abandon) {
    if (preparing != null && preparing.spec().jobId().equals(abandon.jobId())) {
      preparing = null;
    }
    if (job == null || !job.jobId.equals(abandon.jobId())) {
      CommittedState kept = committed.get();
      abandon.replyTo().tell(new DeviceEvent.Abandoned(settings.name(),
          kept != null && kept.jobId().equals(abandon.jobId()) ? kept.held() : null, null));
      return;
    }
    if (running != null) {
      context.getLog().info("job {}: abandoning step {}", job.jobId, running.step());
    }
    abandonStep();
    DeviceEvent.HeldState live = job.live;
    String jobId = job.jobId;
    answerLater(abandon.replyTo(), jobId, () -> {
      CommittedState kept = committed.get();
      return new DeviceEvent.Abandoned(settings.name(), kept != null && kept.jobId().equals(jobId) ? kept.held() : null,
          live);
    });
  }

  /**
   * The job's coordinator was lost: its step cannot complete. The device stops it and keeps its
   * model, data and committed state, so that the job continues when it is submitted again with
   * {@code resume-from = devices}.
   */
  private Behavior<Command> onNodeLost(NodeLost lost) {
    if (lost.how().isEmpty() || job == null || job.abandoned || !lost.address().equals(job.coordinator)) {
      return this;
    }
    CommittedState kept = committed.get();
    context.getLog().warn("job {}: its coordinator at {} {}; device {} stops its step and keeps the job's state{} "
        + "(submit the job again with --resume devices to continue)", job.jobId, lost.address(), lost.how(),
        settings.name(), kept != null && kept.jobId().equals(job.jobId) ? " after step " + kept.step() : "");
    abandonStep();
    return this;
  }

  /**
   * Stops the job's step: no further model work of it runs, its groups stop (failing their
   * collectives), and no step runs until the next Prepare. The model and data stay.
   */
  private void abandonStep() {
    job.pipeline.cancel();
    job.stopGroups();
    job.abandoned = true;
    running = null;
  }

  /**
   * Sends the committed state of the asked step in parts (the model, then this device's optimizer
   * state), or refuses when it holds no such state.
   */
  private void onFetchState(DeviceCommand.FetchState fetch) {
    CommittedState kept = committed.get();
    if (kept == null || !kept.isOf(fetch.jobId(), fetch.step())) {
      fetch.replyTo().tell(failed(fetch.jobId(), "holds no model of step " + fetch.step() + " (yet)"));
      return;
    }
    float[] flat = kept.flattened();
    DeviceEvent.HeldState held = kept.held();
    int[] lengths = kept.optimizer().stream().mapToInt(s -> s.state().length).toArray();
    int chunk = DeviceDirectory.get(context.getSystem()).settings().weightsChunkFloats();
    int offset = 0;
    do {
      int end = Math.min(flat.length, offset + chunk);
      fetch.replyTo().tell(new DeviceEvent.StatePart(settings.name(), kept.step(), offset, flat.length,
          kept.weights().length, held.optimizerSlices(), lengths, kept.optimizerUpdates(),
          java.util.Arrays.copyOfRange(flat, offset, end)));
      offset = end;
    } while (offset < flat.length);
  }

  private void onEndJob(DeviceCommand.EndJob end) {
    if (preparing != null && preparing.spec().jobId().equals(end.jobId())) {
      preparing = null;
    }
    if (job != null && job.jobId.equals(end.jobId())) {
      endJob();
    }
    CommittedState kept = committed.get();
    if (kept != null && kept.jobId().equals(end.jobId())) {
      committed.set(null);
    }
  }

  private void endJob() {
    context.getLog().info("job {}: ended on device {}", job.jobId, settings.name());
    job.stop();
    job = null;
    running = null;
  }

  private DeviceEvent.Failed failed(String jobId, String reason) {
    return new DeviceEvent.Failed(settings.name(), jobId, reason);
  }

  private static String describe(Throwable error) {
    return StageFailure.message(error);
  }
}
