package org.dsparse.actors.device;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.device.StateFetcher.Fetched;
import org.dsparse.actors.metrics.NodeMetrics;
import org.dsparse.actors.mode.TrainingModes;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.CommittedState;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.actors.step.Preparation;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.actors.step.StepResult;
import org.dsparse.actors.step.TrainingMode;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.trainer.DjlThread;

/**
 * One device of the cluster. It announces itself under {@link #SERVICE_KEY}, and for a job lets the
 * job's {@link TrainingMode} prepare its side ({@link ModeRuntime}: model replica, data shard,
 * trainer), forms its process groups ({@link DeviceJob}) and runs each step with the mode's
 * {@link DeviceStep}: the actor sequences steps, owns the groups and the shards it keeps, and turns
 * each step's outcome into one {@link DeviceEvent.StepCompleted} or one failure naming the group and
 * member. DJL work runs on the JVM's DJL thread and comes back as messages, so the actor never blocks.
 *
 * <p>Its phases are its behaviours, each holding what it needs: {@link #idle}, {@link #preparing} a
 * job, {@link #ready} for the job's next step, {@link #running} a step, and {@link #abandoned} (the
 * job stopped its step to re-plan). What outlives a job's runtime, the state of the last committed
 * step, is {@link #committed}.
 */
public final class Device {
  /** Where coordinators find devices. */
  public static final ServiceKey<DeviceCommand> SERVICE_KEY =
      ServiceKey.create(DeviceCommand.class, "dsparse-device");

  /** The actor's messages: remote commands plus its own continuations. */
  public sealed interface Command {}

  private record Remote(DeviceCommand command) implements Command {}

  /** The state a re-planned job continues from is here (null for a fresh start): build the runtime. */
  private record StateReady(DeviceCommand.Prepare prepare, Fetched state, Throwable error) implements Command {}

  /** {@code state}: what the runtime was built from (a null state for a fresh start). */
  private record RuntimeReady(DeviceCommand.Prepare prepare, Fetched state, ModeRuntime runtime,
      Throwable error) implements Command {}

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
  /**
   * The job's state at its last committed step, which a re-plan rolls back to; it outlives the
   * job's runtime so that a re-plan can rebuild from it. Written on the DJL thread (where the
   * snapshot is taken, in order with the steps' model work), read by the actor.
   */
  private final AtomicReference<CommittedState> committed = new AtomicReference<>();
  /** How long a device waits for another's model when it joins a running job. */
  private static final Duration FETCH_TIMEOUT = Duration.ofMinutes(2);
  /**
   * How long a joining device waits for the layer shards to hold the restore's step before it
   * fetches the model from a device instead: the shards' homes store it as the step is committed,
   * seconds before any re-plan, so a shard still behind after this has lost it.
   */
  private static final Duration SHARD_TIMEOUT = Duration.ofSeconds(20);
  private static final String NO_SUCH_JOB = "no such job is prepared on this device";

  /** A device whose steps' model work runs on the DJL thread. */
  public static Behavior<Command> create(DeviceSettings settings, CollectiveSettings collectiveSettings) {
    return create(settings, collectiveSettings, Compute.DJL_THREAD);
  }

  /** A device whose steps' model work runs on {@code compute} (the simulator slows it down). */
  public static Behavior<Command> create(DeviceSettings settings, CollectiveSettings collectiveSettings,
      Compute compute) {
    return Behaviors.setup(ctx -> new Device(ctx, settings, collectiveSettings, compute).idle());
  }

  private Device(ActorContext<Command> context, DeviceSettings settings,
      CollectiveSettings collectiveSettings, Compute compute) {
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

  // ---- phases -------------------------------------------------------------------------------------

  /** No job prepared (a committed state may be kept for one). */
  private Behavior<Command> idle() {
    return built(phase(null, null, remote -> {
      if (remote instanceof DeviceCommand.Abandon abandon) {
        answerAbandonedWithoutJob(abandon);
      } else if (remote instanceof DeviceCommand.EndJob end) {
        forget(end.jobId());
      } else {
        return unhandled(remote, null);
      }
      return Behaviors.same();
    }));
  }

  /** Carrying out {@code prepare}: the state to continue from, then the runtime. A later Prepare replaces it. */
  private Behavior<Command> preparing(DeviceCommand.Prepare prepare) {
    String jobId = prepare.spec().jobId();
    return built(phase(null, null, remote -> {
      if (remote instanceof DeviceCommand.Abandon abandon) {
        answerAbandonedWithoutJob(abandon);
        return abandon.jobId().equals(jobId) ? idle() : Behaviors.same();
      } else if (remote instanceof DeviceCommand.EndJob end) {
        forget(end.jobId());
        return end.jobId().equals(jobId) ? idle() : Behaviors.same();
      }
      return unhandled(remote, null);
    }).onMessage(StateReady.class, ready -> ready.prepare() == prepare ? onStateReady(ready) : Behaviors.same())
        .onMessage(RuntimeReady.class, ready -> ready.prepare() == prepare ? onRuntimeReady(ready)
            : closeUnwanted(ready))
        );
  }

  /**
   * Prepared for {@code job}, no step in flight; {@code live}: where its model stands, when no step
   * failed since it was prepared or last completed a step (else null).
   */
  private Behavior<Command> ready(DeviceJob job, DeviceEvent.HeldState live) {
    return built(phase(job, live, remote -> {
      if (remote instanceof DeviceCommand.RunStep run && run.jobId().equals(job.jobId)) {
        return onRunStep(job, run);
      } else if (remote instanceof DeviceCommand.Abandon abandon && abandon.jobId().equals(job.jobId)) {
        return abandon(job, live, abandon);
      }
      return onJobCommand(job, remote);
    }).onMessage(NodeLost.class, lost -> onNodeLost(job, live, lost)));
  }

  /** Step {@code run} of {@code job} in flight. */
  private Behavior<Command> running(DeviceJob job, DeviceCommand.RunStep run) {
    return built(phase(job, null, remote -> {
      if (remote instanceof DeviceCommand.RunStep other && other.jobId().equals(job.jobId)) {
        other.replyTo().tell(failed(other.jobId(), "step " + other.step() + " asked while step "
            + run.step() + " is still running"));
        return Behaviors.same();
      } else if (remote instanceof DeviceCommand.Abandon abandon && abandon.jobId().equals(job.jobId)) {
        context.getLog().info("job {}: abandoning step {}", job.jobId, run.step());
        return abandon(job, null, abandon);
      }
      return onJobCommand(job, remote);
    }).onMessage(StepFinished.class, finished -> finished.command() == run ? onStepFinished(job, finished)
            : Behaviors.same())
        .onMessage(NodeLost.class, lost -> onNodeLost(job, null, lost)));
  }

  /**
   * {@code job} abandoned its step (to re-plan, or its coordinator was lost): its groups are stopped
   * and no step runs until the next Prepare; the model and data stay. {@code live} as in {@link #ready}.
   */
  private Behavior<Command> abandoned(DeviceJob job, DeviceEvent.HeldState live) {
    return built(phase(job, live, remote -> {
      if (remote instanceof DeviceCommand.RunStep run && run.jobId().equals(job.jobId)) {
        run.replyTo().tell(failed(run.jobId(), "step " + run.step() + " asked after the job abandoned its step; "
            + "it needs a new plan first"));
        return Behaviors.same();
      } else if (remote instanceof DeviceCommand.Abandon abandon && abandon.jobId().equals(job.jobId)) {
        answerAbandoned(abandon, live);
        return Behaviors.same();
      }
      return onJobCommand(job, remote);
    }));
  }

  /**
   * What every phase does alike: describe this device, send a committed state, take a Prepare,
   * answer its own DJL work, drop stale continuations; {@code remote} handles the rest of the
   * commands. {@code job} and {@code live} are the phase's (null without a job); a Prepare may
   * capture a live model at a step boundary.
   */
  private BehaviorBuilder<Command> phase(DeviceJob job, DeviceEvent.HeldState live,
      Function<DeviceCommand, Behavior<Command>> remote) {
    return Behaviors.receive(Command.class)
        .onMessage(Remote.class, message -> {
          DeviceCommand command = message.command();
          if (command instanceof DeviceCommand.Describe describe) {
            describe.replyTo().tell(
                new DeviceEvent.Described(settings.name(), address, settings.budgetBytes(), commands));
            return Behaviors.same();
          } else if (command instanceof DeviceCommand.FetchState fetch) {
            onFetchState(fetch);
            return Behaviors.same();
          } else if (command instanceof DeviceCommand.Prepare prepare) {
            return onPrepare(prepare, job, live);
          }
          return remote.apply(command);
        })
        .onMessage(Answered.class, answered -> {
          answered.replyTo().tell(answered.event());
          return Behaviors.same();
        });
  }

  /**
   * The phase's behaviour: its own handlers first (a builder matches in order), then what every
   * phase drops, the continuations of a phase left behind (the job ended or was replaced meanwhile).
   */
  private Behavior<Command> built(BehaviorBuilder<Command> phase) {
    return phase.onMessage(StateReady.class, stale -> Behaviors.same())
        .onMessage(RuntimeReady.class, this::closeUnwanted)
        .onMessage(StepFinished.class, stale -> Behaviors.same())
        .onMessage(NodeLost.class, lost -> Behaviors.same())
        .build();
  }

  /** The commands of a job's phases that do not depend on the phase: evaluate, save, end, others' jobs. */
  private Behavior<Command> onJobCommand(DeviceJob job, DeviceCommand command) {
    if (command instanceof DeviceCommand.Evaluate evaluate && evaluate.jobId().equals(job.jobId)) {
      ModeRuntime runtime = job.runtime;
      answerLater(evaluate.replyTo(), evaluate.jobId(), () -> {
        long[] result = runtime.evaluate(evaluate.shard(), evaluate.shards());
        return new DeviceEvent.Evaluated(settings.name(), result[0], result[1]);
      });
      return Behaviors.same();
    } else if (command instanceof DeviceCommand.SaveCheckpoint save && save.jobId().equals(job.jobId)) {
      ModeRuntime runtime = job.runtime;
      answerLater(save.replyTo(), save.jobId(), () -> {
        runtime.saveCheckpoint(Path.of(save.path()), save.nextEpoch(), save.step(), save.plan());
        return new DeviceEvent.CheckpointSaved(settings.name(), save.path());
      });
      return Behaviors.same();
    } else if (command instanceof DeviceCommand.EndJob end) {
      forget(end.jobId());
      if (end.jobId().equals(job.jobId)) {
        endJob(job);
        return idle();
      }
      return Behaviors.same();
    } else if (command instanceof DeviceCommand.Abandon abandon) {
      answerAbandonedWithoutJob(abandon);
      return Behaviors.same();
    }
    return unhandled(command, job);
  }

  /** A command for a job this device has not prepared (or a step asked outside one): refused, naming why. */
  private Behavior<Command> unhandled(DeviceCommand command, DeviceJob job) {
    if (command instanceof DeviceCommand.RunStep run) {
      run.replyTo().tell(failed(run.jobId(), NO_SUCH_JOB));
    } else if (command instanceof DeviceCommand.Evaluate evaluate) {
      evaluate.replyTo().tell(failed(evaluate.jobId(), NO_SUCH_JOB));
    } else if (command instanceof DeviceCommand.SaveCheckpoint save) {
      save.replyTo().tell(failed(save.jobId(), NO_SUCH_JOB));
    } else if (command instanceof DeviceCommand.EndJob end) {
      forget(end.jobId());
    }
    return Behaviors.same();
  }

  // ---- job set-up -------------------------------------------------------------------------------

  private Behavior<Command> onPrepare(DeviceCommand.Prepare prepare, DeviceJob job, DeviceEvent.HeldState live) {
    if (rankOf(prepare.devices()) < 0) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "this device is not in the job's device list"));
      return Behaviors.same();
    }
    CompletionStage<Fetched> state = stateToContinueFrom(prepare, job, live);
    if (job != null) {
      endJob(job); // after a live capture was queued: the runtime closes behind it
    }
    context.pipeToSelf(state, (restored, error) -> new StateReady(prepare, restored, error));
    return preparing(prepare);
  }

  /**
   * The job's state at {@code restore}'s step: this device's snapshot of it, its live model when it
   * has done exactly those steps and nothing since (a device adopted at a step boundary), or the
   * model fetched from the restore's source device. Null without a restore.
   */
  private CompletionStage<Fetched> stateToContinueFrom(DeviceCommand.Prepare prepare, DeviceJob job,
      DeviceEvent.HeldState live) {
    String jobId = prepare.spec().jobId();
    DeviceCommand.Restore restore = prepare.restore();
    CommittedState kept = committed.get();
    if (restore == null) {
      committed.set(null);
      return CompletableFuture.completedFuture(new Fetched(null, DeviceEvent.StateTaken.HELD));
    }
    if (kept != null && kept.isOf(jobId, restore.step())) {
      return CompletableFuture.completedFuture(new Fetched(kept, DeviceEvent.StateTaken.HELD));
    }
    if (job != null && job.jobId.equals(jobId) && live != null && live.step() == restore.step()) {
      ModeRuntime runtime = job.runtime;
      ActorSystem<?> system = context.getSystem();
      return DjlThread.submit(() -> {
        CommittedState taken = runtime.capture(live.step(), live.epoch(), live.stepInEpoch());
        committed.set(taken);
        keepShards(system, job, taken);
        return new Fetched(taken, DeviceEvent.StateTaken.HELD);
      });
    }
    if (restore.sourceDevice() == null || restore.source().equals(settings.name())) {
      return CompletableFuture.failedFuture(new IllegalStateException("this device holds no state of job " + jobId
          + " after step " + restore.step() + " and was given no device to fetch it from"));
    }
    return fetch(prepare, restore);
  }

  /**
   * The state of {@code restore}'s step from its layer shards, else from its source device: the
   * model, and the optimizer state of the slices this device updates and the restore keeps.
   */
  private CompletableFuture<Fetched> fetch(DeviceCommand.Prepare prepare, DeviceCommand.Restore restore) {
    List<GroupPlan.Slice> wanted = prepare.assignment().updatedSlices().stream()
        .filter(restore.keptOptimizerState()::contains).toList();
    CompletableFuture<Fetched> fetched = new CompletableFuture<>();
    context.spawnAnonymous(StateFetcher.create(restore, prepare.spec().jobId(), wanted, SHARD_TIMEOUT, FETCH_TIMEOUT,
        fetched));
    return fetched;
  }

  private Behavior<Command> onStateReady(StateReady ready) {
    DeviceCommand.Prepare prepare = ready.prepare();
    if (ready.error() != null) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "no state to continue from: " + describe(ready.error())));
      return idle();
    }
    CommittedState state = ready.state().state();
    if (state != null && !state.inGroups()) {
      committed.set(state);
    }
    int rank = rankOf(prepare.devices());
    TrainingMode mode = TrainingModes.of(prepare.spec());
    Preparation preparation;
    try {
      preparation = new Preparation(prepare.spec(), prepare.devices(), settings.name(), prepare.assignment(),
          prepare.groups(), settings.dataSource(prepare.spec().data(), "job " + prepare.spec().jobId() + " data"),
          settings.measureMemory(), prepare.restore(), state);
    } catch (IllegalArgumentException e) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "set-up failed: " + describe(e)));
      return idle();
    }
    context.getLog().info("job {}: preparing as device {} of {}, updating {} layers{}{}",
        prepare.spec().jobId(), rank, prepare.devices().size(), prepare.assignment().updatedLayers().size(),
        mode.role(preparation), prepare.restore() == null ? "" : ", from step " + prepare.restore().step());
    context.pipeToSelf(DjlThread.submit(() -> {
      ModeRuntime runtime = mode.prepare(preparation);
      if (state != null && state.inGroups()) {
        try {
          committed.set(runtime.laidOut(state)); // what a later restore to this step, or a peer, takes
        } catch (IOException | RuntimeException e) {
          runtime.close();
          throw e;
        }
      }
      return runtime;
    }), (runtime, error) -> new RuntimeReady(prepare, ready.state(), runtime, error));
    return Behaviors.same();
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
    if (ready.error() != null && ready.state().state() != null && ready.state().state().inGroups()) {
      // The shards' state did not make this job's model: the source device's snapshot still can.
      context.getLog().warn("job {}: the layer shards' state of step {} does not fit the job's model ({}); fetching "
          + "it from device {}", prepare.spec().jobId(), prepare.restore().step(), describe(ready.error()),
          prepare.restore().source());
      context.pipeToSelf(fetch(prepare, prepare.restore().fromSource()),
          (restored, error) -> new StateReady(prepare, restored, error));
      return Behaviors.same();
    }
    if (ready.error() != null) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "set-up failed: " + describe(ready.error())));
      return idle();
    }
    DeviceJob job;
    try {
      job = new DeviceJob(context, settings.name(), prepare, ready.runtime(), collectiveSettings, compute);
    } catch (RuntimeException e) {
      close(ready.runtime());
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "cannot form its process groups: " + describe(e)));
      return idle();
    }
    prepare.replyTo().tell(new DeviceEvent.Prepared(settings.name(), ready.runtime().stepsPerEpoch(),
        ready.runtime().startEpoch(), ready.runtime().startStep(), ready.state().taken()));
    return ready(job, ready.runtime().start());
  }

  /** A runtime prepared for a Prepare since replaced, or a job abandoned or ended meanwhile. */
  private Behavior<Command> closeUnwanted(RuntimeReady ready) {
    if (ready.runtime() != null) {
      close(ready.runtime());
    }
    return Behaviors.same();
  }

  private static void close(ModeRuntime runtime) {
    DjlThread.submit(() -> {
      runtime.close();
      return null;
    });
  }

  // ---- one step ---------------------------------------------------------------------------------

  private Behavior<Command> onRunStep(DeviceJob job, DeviceCommand.RunStep run) {
    if (run.snapshot()) {
      // Queued before the step's model work, on the same thread: the model as the previous step left it.
      ModeRuntime runtime = job.runtime;
      ActorSystem<?> system = context.getSystem();
      DjlThread.submit(() -> {
        CommittedState taken = runtime.capture(run.step(), run.epoch(), run.stepInEpoch());
        committed.set(taken);
        keepShards(system, job, taken);
        return null;
      });
    }
    context.pipeToSelf(job.pipeline.run(run.epoch(), run.step(), run.average(), run.refresh(), run.evaluated(),
        run.overlapCuts()),
        (result, error) -> new StepFinished(run, result, error));
    return running(job, run);
  }

  /**
   * The shards this device keeps take the committed state {@code taken} from its own copy (on the DJL
   * thread, as {@code taken} was captured): every device holds the same weights at a committed step,
   * and a group's updaters the same optimizer state.
   */
  private void keepShards(ActorSystem<?> system, DeviceJob job, CommittedState taken) {
    for (GroupPlan group : job.keptShards) {
      List<float[]> optimizer = group.updaters().contains(settings.name()) ? taken.optimizerOf(group.slices())
          : List.of();
      if (group.shardHome().equals(settings.name())) {
        // The shard is on this node: it keeps the snapshot's optimizer arrays, not a copy of them.
        LayerShard.keepState(system, group.shardId(), taken.step(), job.runtime.groupWeights(group), optimizer,
            taken.optimizerUpdates());
      } else {
        LayerShard.storeState(system, group.shardId(), taken.step(), job.runtime.groupWeights(group), optimizer,
            taken.optimizerUpdates());
      }
    }
  }

  private Behavior<Command> onStepFinished(DeviceJob job, StepFinished finished) {
    DeviceCommand.RunStep run = finished.command();
    if (finished.error() != null) {
      String reason = StageFailure.message(finished.error());
      context.getLog().warn("job {} step {}: {}", run.jobId(), run.step(), reason);
      NodeMetrics.get(context.getSystem()).deviceFailed(run.jobId(), settings.name());
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + ": " + reason));
      return ready(job, null);
    }
    StepResult result = finished.result();
    long baseline = job.runtime.baselineRss();
    // Resident growth is this device's only when it has the process to itself.
    long current = settings.measureMemory() ? ProcessMemory.residentBytes() - baseline : 0;
    long peak = settings.measureMemory() ? ProcessMemory.peakResidentBytes() - baseline : 0;
    StepMetrics metrics = new StepMetrics(result.loss(), result.computeNanos() / 1e6,
        result.allReduceNanos() / 1e6, result.broadcastNanos() / 1e6, result.collectiveWallNanos() / 1e6,
        result.allReduceBytes(), result.broadcastBytes(), job.wireSinceLastStep(), current, peak, result.segments(),
        result.groupTimes());
    NodeMetrics.get(context.getSystem()).deviceStepped(run.jobId(), settings.name(), metrics);
    run.replyTo().tell(new DeviceEvent.StepCompleted(settings.name(), run.step(), metrics));
    return ready(job, new DeviceEvent.HeldState(run.step() + 1, run.epoch(), run.stepInEpoch() + 1,
        job.runtime.updatedSlices()));
  }

  private void answerLater(ActorRef<DeviceEvent> replyTo, String jobId,
      java.util.concurrent.Callable<DeviceEvent> work) {
    CompletionStage<DeviceEvent> answer = DjlThread.submit(work);
    context.pipeToSelf(answer, (event, error) ->
        new Answered(event != null ? event : failed(jobId, describe(error)), replyTo));
  }

  // ---- abandoning, losing the coordinator, ending -----------------------------------------------

  /**
   * Stops the step in flight and the job's groups, then answers once the model work queued so far
   * has run (stages not yet started fail), with the states this device can continue from.
   */
  private Behavior<Command> abandon(DeviceJob job, DeviceEvent.HeldState live, DeviceCommand.Abandon abandon) {
    job.abandonStep();
    answerAbandoned(abandon, live);
    return abandoned(job, live);
  }

  /** The Abandoned answer, after the model work queued so far: the committed state kept and the live one. */
  private void answerAbandoned(DeviceCommand.Abandon abandon, DeviceEvent.HeldState live) {
    String jobId = abandon.jobId();
    answerLater(abandon.replyTo(), jobId, () -> {
      CommittedState kept = committed.get();
      return new DeviceEvent.Abandoned(settings.name(), kept != null && kept.jobId().equals(jobId) ? kept.held() : null,
          live);
    });
  }

  /** The Abandoned answer of a device without the job prepared: the committed state it keeps, if any. */
  private void answerAbandonedWithoutJob(DeviceCommand.Abandon abandon) {
    CommittedState kept = committed.get();
    abandon.replyTo().tell(new DeviceEvent.Abandoned(settings.name(),
        kept != null && kept.jobId().equals(abandon.jobId()) ? kept.held() : null, null));
  }

  /**
   * The job's coordinator was lost: its step cannot complete. The device stops it and keeps its
   * model, data and committed state, so that the job continues when it is submitted again with
   * {@code resume-from = devices}.
   */
  private Behavior<Command> onNodeLost(DeviceJob job, DeviceEvent.HeldState live, NodeLost lost) {
    if (lost.how().isEmpty() || !lost.address().equals(job.coordinator)) {
      return Behaviors.same();
    }
    CommittedState kept = committed.get();
    context.getLog().warn("job {}: its coordinator at {} {}; device {} stops its step and keeps the job's state{} "
        + "(submit the job again with --resume devices to continue)", job.jobId, lost.address(), lost.how(),
        settings.name(), kept != null && kept.jobId().equals(job.jobId) ? " after step " + kept.step() : "");
    job.abandonStep();
    return abandoned(job, live);
  }

  /**
   * Sends the committed state of the asked step in parts (the model, then this device's optimizer
   * state of the asked slices), or refuses when it holds no such state.
   */
  private void onFetchState(DeviceCommand.FetchState fetch) {
    CommittedState kept = committed.get();
    if (kept == null || !kept.isOf(fetch.jobId(), fetch.step())) {
      fetch.replyTo().tell(failed(fetch.jobId(), "holds no model of step " + fetch.step() + " (yet)"));
      return;
    }
    kept = kept.withOptimizerOf(fetch.optimizerSlices());
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

  /** The job ended: its committed state goes too. */
  private void forget(String jobId) {
    CommittedState kept = committed.get();
    if (kept != null && kept.jobId().equals(jobId)) {
      committed.set(null);
    }
  }

  private void endJob(DeviceJob job) {
    context.getLog().info("job {}: ended on device {}", job.jobId, settings.name());
    job.stop();
  }

  private DeviceEvent.Failed failed(String jobId, String reason) {
    return new DeviceEvent.Failed(settings.name(), jobId, reason);
  }

  private static String describe(Throwable error) {
    return StageFailure.message(error);
  }
}
