package org.dsparse.actors.device;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.StepPipeline;
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
 * full model replica and its data shard ({@link DeviceRuntime}), forms its process groups and runs
 * each step with the job's {@link StepPipeline}: the actor sequences steps, owns the groups and the
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

  private record RuntimeReady(DeviceCommand.Prepare prepare, DeviceRuntime runtime, Throwable error)
      implements Command {}

  private record StepFinished(DeviceCommand.RunStep command, StepPipeline.Result result, Throwable error)
      implements Command {}

  private record Answered(DeviceEvent event, ActorRef<DeviceEvent> replyTo) implements Command {}

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
        .onMessage(RuntimeReady.class, this::onRuntimeReady)
        .onMessage(StepFinished.class, this::onStepFinished)
        .onMessage(Answered.class, this::onAnswered)
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
    }
    return this;
  }

  // ---- job set-up -------------------------------------------------------------------------------

  private void onPrepare(DeviceCommand.Prepare prepare) {
    if (job != null) {
      endJob();
    }
    int rank = rankOf(prepare.devices());
    if (rank < 0) {
      prepare.replyTo().tell(failed(prepare.spec().jobId(), "this device is not in the job's device list"));
      return;
    }
    context.getLog().info("job {}: preparing as device {} of {}, updating {} layers",
        prepare.spec().jobId(), rank, prepare.devices().size(), prepare.assignment().updatedLayers().size());
    context.pipeToSelf(
        DjlThread.submit(() -> DeviceRuntime.prepare(prepare.spec(), rank, prepare.devices().size(),
            prepare.assignment(), JobPlanning.learningRateScales(prepare.spec(), prepare.groups(), settings.name(),
                prepare.devices().size()), settings)),
        (runtime, error) -> new RuntimeReady(prepare, runtime, error));
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
    final DeviceRuntime runtime;
    final DeviceGroups groups;
    final StepPipeline pipeline;
    final List<ActorRef<ProcessGroup.Command>> groupActors = new ArrayList<>();
    /** Shard ids of the groups whose shard this device keeps current, by group id. */
    final Map<String, String> keptShards = new HashMap<>();
    /** The network counters when the previous step ended (or the job was ready). */
    Map<String, WireTraffic.Bytes> trafficAtLastStep;

    Job(DeviceCommand.Prepare prepare, DeviceRuntime runtime) {
      this.jobId = prepare.spec().jobId();
      this.runtime = runtime;
      Map<String, String> addresses = new LinkedHashMap<>();
      prepare.devices().forEach(d -> addresses.put(d.name(), d.address()));
      this.groups = DeviceGroups.of(settings.name(), jobId, prepare.groups(), List.copyOf(addresses.keySet()));
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

    void stop() {
      groupActors.forEach(context::stop);
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
    running = run;
    context.pipeToSelf(job.pipeline.run(run.epoch(), run.step(), run.average(), run.refresh(), run.overlapCuts()),
        (result, error) -> new StepFinished(run, result, error));
  }

  private Behavior<Command> onStepFinished(StepFinished finished) {
    DeviceCommand.RunStep run = finished.command();
    if (running != run) {
      return this; // the job ended or was replaced while the step ran
    }
    running = null;
    if (finished.error() != null) {
      String reason = StepPipeline.message(finished.error());
      context.getLog().warn("job {} step {}: {}", run.jobId(), run.step(), reason);
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + ": " + reason));
      return this;
    }
    StepPipeline.Result result = finished.result();
    result.keptShardWeights().forEach((group, weights) ->
        LayerShard.storeWeights(context.getSystem(), job.keptShards.get(group), run.step(), weights));
    long baseline = job.runtime.baselineRss();
    // Resident growth is this device's only when it has the process to itself.
    long current = settings.measureMemory() ? ProcessMemory.residentBytes() - baseline : 0;
    long peak = settings.measureMemory() ? ProcessMemory.peakResidentBytes() - baseline : 0;
    StepMetrics metrics = new StepMetrics(result.loss(), result.computeNanos() / 1e6,
        result.allReduceNanos() / 1e6, result.broadcastNanos() / 1e6, result.collectiveWallNanos() / 1e6,
        result.allReduceBytes(), result.broadcastBytes(), wireSinceLastStep(), current, peak, result.segments());
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
    DeviceRuntime runtime = job.runtime;
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
    DeviceRuntime runtime = job.runtime;
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

  private void onEndJob(DeviceCommand.EndJob end) {
    if (job != null && job.jobId.equals(end.jobId())) {
      endJob();
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
    return StepPipeline.message(error);
  }
}
