package org.dsparse.actors.device;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.shard.DeviceDirectory;
import org.dsparse.actors.shard.DeviceEntry;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.core.collective.ReduceOp;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.protocol.wire.WireTraffic;
import org.dsparse.training.profile.ProcessMemory;
import org.dsparse.training.trainer.DjlThread;

/**
 * One device of the cluster. It announces itself under {@link #SERVICE_KEY}, and for a job holds a
 * full model replica and its data shard ({@link DeviceRuntime}) and runs each synchronous step:
 * forward and backward through its updated layers, one fused AllReduce per group it updates (all
 * groups at once), the optimizer step, and on refresh steps the Broadcast of each group's weights
 * from its owner to the devices that do not update it. DJL work goes to the JVM's DJL thread and
 * comes back as messages, so the actor never blocks.
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

  private record GradientsComputed(long step, float loss, Map<String, float[]> payloads, long nanos,
      Throwable error) implements Command {}

  /** The emulated extra time of a slower device has passed. */
  private record EmulatedDelayPassed(long step, Command next) implements Command {}

  /** Every collective of the step's current phase has completed. */
  private record PhaseCompleted(long step) implements Command {}

  private record CollectiveFinished(ProcessGroup.CollectiveOutcome outcome) implements Command {}

  /**
   * The optimizer stepped. {@code toAverage}: with periodic model averaging, the weights of the
   * groups to average now; {@code ownedWeights}: on refresh steps (when nothing is averaged first),
   * the weights of the groups this device leads.
   */
  private record Stepped(long step, Map<String, float[]> toAverage, Map<String, float[]> ownedWeights,
      long nanos, Throwable error) implements Command {}

  /** The groups' averaged weights are in; {@code ownedWeights} as in {@link Stepped}. */
  private record Averaged(long step, Map<String, float[]> ownedWeights, long nanos, Throwable error)
      implements Command {}

  private record RefreshApplied(long step, long nanos, Throwable error) implements Command {}

  private record Answered(DeviceEvent event, ActorRef<DeviceEvent> replyTo) implements Command {}

  private final ActorContext<Command> context;
  private final DeviceSettings settings;
  private final CollectiveSettings collectiveSettings;
  private final String address;
  private final ActorRef<ProcessGroup.CollectiveOutcome> collectiveReplies;
  /** This device's address for commands from other nodes. */
  private final ActorRef<DeviceCommand> commands;
  private Job job;
  private StepRun step;

  public static Behavior<Command> create(DeviceSettings settings, CollectiveSettings collectiveSettings) {
    return Behaviors.setup(ctx -> new Device(ctx, settings, collectiveSettings));
  }

  private Device(ActorContext<Command> context, DeviceSettings settings,
      CollectiveSettings collectiveSettings) {
    super(context);
    this.context = context;
    this.settings = settings;
    this.collectiveSettings = collectiveSettings;
    this.address = Cluster.get(context.getSystem()).selfMember().address().toString();
    this.collectiveReplies = context.messageAdapter(ProcessGroup.CollectiveOutcome.class,
        CollectiveFinished::new);
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
        .onMessage(GradientsComputed.class, this::onGradientsComputed)
        .onMessage(EmulatedDelayPassed.class, this::onEmulatedDelayPassed)
        .onMessage(PhaseCompleted.class, this::onPhaseCompleted)
        .onMessage(CollectiveFinished.class, this::onCollectiveFinished)
        .onMessage(Stepped.class, this::onStepped)
        .onMessage(Averaged.class, this::onAveraged)
        .onMessage(RefreshApplied.class, this::onRefreshApplied)
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
    prepare.replyTo().tell(new DeviceEvent.Prepared(settings.name(), ready.runtime().baselineRss(),
        ready.runtime().model().layerCount(), ready.runtime().stepsPerEpoch()));
    return this;
  }

  /** This device's part of a running job: its runtime and the process groups it belongs to. */
  private final class Job {
    final String jobId;
    final DeviceRuntime runtime;
    /** Groups average weights every few steps rather than gradients every step. */
    final boolean averagesWeights;
    /** Groups this device updates with others: one AllReduce each per step. */
    final List<GroupPlan> allReduceGroups = new ArrayList<>();
    /** Groups whose weights this device sends (as owner) or receives at refreshes. */
    final List<GroupPlan> refreshGroups = new ArrayList<>();
    /** Groups this device leads: it sends their weights at every refresh. */
    final List<GroupPlan> ownedGroups = new ArrayList<>();
    /** Groups whose LayerShard this device keeps current at every refresh, from its own copy. */
    final Set<String> shardsKept = new HashSet<>();
    final Map<String, ActorRef<ProcessGroup.Command>> groupActors = new HashMap<>();
    final Map<String, Integer> weightLengths = new HashMap<>();
    /** Each process group actor's id: the plan's group and the kind of traffic it carries. */
    final Map<String, Channel> channels = new HashMap<>();
    /** The network counters when the previous step ended (or the job was ready). */
    Map<String, WireTraffic.Bytes> trafficAtLastStep;

    Job(DeviceCommand.Prepare prepare, DeviceRuntime runtime) {
      this.jobId = prepare.spec().jobId();
      this.runtime = runtime;
      this.averagesWeights = prepare.spec().averagesWeights();
      Map<String, String> addresses = new LinkedHashMap<>();
      prepare.devices().forEach(d -> addresses.put(d.name(), d.address()));
      String me = settings.name();
      for (GroupPlan group : prepare.groups()) {
        if (group.owner().equals(me)) {
          ownedGroups.add(group);
        }
        boolean homeOutside = !addresses.containsKey(group.shardHome());
        if (group.shardHome().equals(me) || (homeOutside && group.owner().equals(me))) {
          shardsKept.add(group.groupId());
        }
        if (group.isAllReduce() && group.updaters().contains(me)) {
          allReduceGroups.add(group);
          spawnGroup(allReduceId(group), group.updaters(), addresses);
          channels.put(allReduceId(group), new Channel(group.groupId(), WireBytes.ALL_REDUCE));
        }
        List<String> receivers = new ArrayList<>(addresses.keySet());
        receivers.removeAll(group.updaters());
        if (!receivers.isEmpty() && (group.owner().equals(me) || receivers.contains(me))) {
          refreshGroups.add(group);
          List<String> members = new ArrayList<>();
          members.add(group.owner());
          members.addAll(receivers);
          spawnGroup(refreshId(group), members, addresses);
          channels.put(refreshId(group), new Channel(group.groupId(),
              group.isAllReduce() ? WireBytes.REFRESH : WireBytes.BROADCAST));
          weightLengths.put(group.groupId(), runtime.weightLength(group));
        }
      }
    }

    String allReduceId(GroupPlan group) {
      return jobId + "." + group.groupId() + ".ar";
    }

    String refreshId(GroupPlan group) {
      return jobId + "." + group.groupId() + ".rf";
    }

    private void spawnGroup(String groupId, List<String> members, Map<String, String> addresses) {
      List<org.apache.pekko.actor.Address> memberAddresses = new ArrayList<>();
      for (String member : members) {
        String memberAddress = addresses.get(member);
        if (memberAddress == null) {
          throw new IllegalArgumentException("group " + groupId + " names device " + member
              + ", which is not in the job");
        }
        memberAddresses.add(AddressFromURIString.parse(memberAddress));
      }
      GroupSpec spec = new GroupSpec(groupId, memberAddresses);
      groupActors.put(groupId, context.spawn(ProcessGroup.create(spec, collectiveSettings),
          ProcessGroup.actorName(groupId)));
    }

    boolean owns(GroupPlan group) {
      return group.owner().equals(settings.name());
    }

    void stop() {
      groupActors.values().forEach(context::stop);
      DjlThread.submit(() -> {
        runtime.close();
        return null;
      });
    }
  }

  // ---- one step ---------------------------------------------------------------------------------

  /** Progress of the step in flight. */
  private static final class StepRun {
    /** Which collectives the pending set holds. */
    enum Phase { ALL_REDUCE, AVERAGE, BROADCAST }

    final DeviceCommand.RunStep command;
    Phase phase = Phase.ALL_REDUCE;
    boolean slowdownApplied;
    final long started = System.nanoTime();
    float loss;
    long computeNanos;
    long phaseStarted;
    /** Collectives' own time, from the last member's start to the end (see ProcessGroup.Completed). */
    long allReduceNanos;
    long broadcastNanos;
    long phaseTransferNanos;
    /** Wall time in collectives, including the wait for members that started later. */
    long collectiveWallNanos;
    long allReduceBytes;
    long broadcastBytes;
    final Set<String> pending = new HashSet<>();
    final Map<String, float[]> results = new HashMap<>();

    StepRun(DeviceCommand.RunStep command) {
      this.command = command;
    }
  }

  private void onRunStep(DeviceCommand.RunStep run) {
    if (job == null || !job.jobId.equals(run.jobId())) {
      run.replyTo().tell(failed(run.jobId(), "no such job is prepared on this device"));
      return;
    }
    if (step != null) {
      run.replyTo().tell(failed(run.jobId(), "step " + run.step() + " asked while step "
          + step.command.step() + " is still running"));
      return;
    }
    step = new StepRun(run);
    Job current = job;
    context.pipeToSelf(DjlThread.submit(() -> {
      long start = System.nanoTime();
      Map<String, float[]> payloads = new LinkedHashMap<>();
      float loss = current.runtime.computeGradients(run.epoch(),
          current.averagesWeights ? List.of() : current.allReduceGroups, payloads);
      return new GradientsComputed(run.step(), loss, payloads, System.nanoTime() - start, null);
    }), (computed, error) -> computed != null ? computed
        : new GradientsComputed(run.step(), Float.NaN, Map.of(), 0, error));
  }

  private Behavior<Command> onGradientsComputed(GradientsComputed computed) {
    if (!isCurrent(computed.step())) {
      return this;
    }
    if (computed.error() != null) {
      return failStep("forward/backward failed: " + describe(computed.error()));
    }
    long slower = (long) ((settings.computeSlowdown() - 1) * computed.nanos());
    if (slower > 0 && !step.slowdownApplied) {
      step.slowdownApplied = true;
      step.computeNanos += slower;
      return emulateDelay(slower, computed);
    }
    step.loss = computed.loss();
    step.computeNanos += computed.nanos();
    step.phaseStarted = System.nanoTime();
    allReduce(computed.payloads());
    if (step.pending.isEmpty()) {
      applyAndStep();
    }
    return this;
  }

  /** Averages each group's payload (gradients, or weights when averaging models) among its updaters. */
  private void allReduce(Map<String, float[]> payloads) {
    for (GroupPlan group : job.allReduceGroups) {
      float[] payload = payloads.get(group.groupId());
      if (payload == null) {
        continue;
      }
      String id = job.allReduceId(group);
      step.pending.add(id);
      step.allReduceBytes += 4L * payload.length;
      job.groupActors.get(id).tell(new ProcessGroup.AllReduce(step.command.step(), payload, ReduceOp.MEAN,
          collectiveReplies));
    }
  }

  private Behavior<Command> onCollectiveFinished(CollectiveFinished finished) {
    ProcessGroup.CollectiveOutcome outcome = finished.outcome();
    String groupId;
    long sequence;
    if (outcome instanceof ProcessGroup.Failed failure) {
      groupId = failure.groupId();
      sequence = failure.sequence();
    } else {
      ProcessGroup.Completed completed = (ProcessGroup.Completed) outcome;
      groupId = completed.groupId();
      sequence = completed.sequence();
    }
    if (step == null || sequence != step.command.step() || !step.pending.remove(groupId)) {
      return this;
    }
    if (outcome instanceof ProcessGroup.Failed failure) {
      return failStep("collective of group " + groupId + " failed"
          + failure.missingMember().map(m -> " (missing member " + m + ")").orElse("") + ": "
          + failure.reason());
    }
    ProcessGroup.Completed completed = (ProcessGroup.Completed) outcome;
    step.results.put(groupId, completed.result());
    // Groups of a phase run at once: the phase costs its longest collective.
    step.phaseTransferNanos = Math.max(step.phaseTransferNanos, completed.transferNanos());
    if (!step.pending.isEmpty()) {
      return this;
    }
    return onPhaseCompleted(new PhaseCompleted(step.command.step()));
  }

  private Behavior<Command> emulateDelay(long nanos, Command next) {
    context.scheduleOnce(java.time.Duration.ofNanos(nanos), context.getSelf(),
        new EmulatedDelayPassed(step.command.step(), next));
    return this;
  }

  private Behavior<Command> onEmulatedDelayPassed(EmulatedDelayPassed passed) {
    if (!isCurrent(passed.step())) {
      return this;
    }
    context.getSelf().tell(passed.next());
    return this;
  }

  private Behavior<Command> onPhaseCompleted(PhaseCompleted completed) {
    if (!isCurrent(completed.step())) {
      return this;
    }
    step.collectiveWallNanos += System.nanoTime() - step.phaseStarted;
    long transfer = step.phaseTransferNanos;
    step.phaseTransferNanos = 0;
    switch (step.phase) {
      case BROADCAST -> {
        step.broadcastNanos = transfer;
        applyRefresh();
      }
      case AVERAGE -> {
        step.allReduceNanos += transfer;
        applyAveragedWeights();
      }
      case ALL_REDUCE -> {
        step.allReduceNanos = transfer;
        applyAndStep();
      }
    }
    return this;
  }

  /**
   * Puts the averaged gradients back and steps. Then, when groups average weights on this step,
   * exports them; otherwise, on refresh steps, exports the owned groups' weights.
   */
  private void applyAndStep() {
    StepRun run = step;
    Job current = job;
    List<GroupPlan> reduced = current.averagesWeights ? List.of() : current.allReduceGroups;
    Map<String, float[]> averaged = new HashMap<>();
    for (GroupPlan group : reduced) {
      averaged.put(group.groupId(), run.results.get(current.allReduceId(group)));
    }
    run.results.clear();
    boolean averageNow = current.averagesWeights && run.command.average();
    context.pipeToSelf(DjlThread.submit(() -> {
      long start = System.nanoTime();
      current.runtime.applyAveragedAndStep(reduced, averaged);
      Map<String, float[]> toAverage = new HashMap<>();
      if (averageNow) {
        for (GroupPlan group : current.allReduceGroups) {
          toAverage.put(group.groupId(), current.runtime.exportWeights(group));
        }
      }
      Map<String, float[]> owned = toAverage.isEmpty() ? ownedWeights(current, run) : Map.of();
      return new Stepped(run.command.step(), toAverage, owned, System.nanoTime() - start, null);
    }), (stepped, error) -> stepped != null ? stepped
        : new Stepped(run.command.step(), Map.of(), Map.of(), 0, error));
  }

  /** On refresh steps, the weights of the groups this device leads (DJL thread). */
  private static Map<String, float[]> ownedWeights(Job job, StepRun run) {
    Map<String, float[]> owned = new HashMap<>();
    if (run.command.refresh()) {
      for (GroupPlan group : job.ownedGroups) {
        owned.put(group.groupId(), job.runtime.exportWeights(group));
      }
    }
    return owned;
  }

  /** Takes in the groups' averaged weights, then exports what a refresh sends. */
  private void applyAveragedWeights() {
    StepRun run = step;
    Job current = job;
    Map<GroupPlan, float[]> averaged = new LinkedHashMap<>();
    for (GroupPlan group : current.allReduceGroups) {
      averaged.put(group, run.results.get(current.allReduceId(group)));
    }
    run.results.clear();
    context.pipeToSelf(DjlThread.submit(() -> {
      long start = System.nanoTime();
      averaged.forEach(current.runtime::importWeights);
      return new Averaged(run.command.step(), ownedWeights(current, run), System.nanoTime() - start, null);
    }), (done, error) -> done != null ? done : new Averaged(run.command.step(), Map.of(), 0, error));
  }

  private Behavior<Command> onAveraged(Averaged averaged) {
    if (!isCurrent(averaged.step())) {
      return this;
    }
    if (averaged.error() != null) {
      return failStep("applying averaged weights failed: " + describe(averaged.error()));
    }
    step.computeNanos += averaged.nanos();
    return refreshOrComplete(averaged.ownedWeights());
  }

  private Behavior<Command> onStepped(Stepped stepped) {
    if (!isCurrent(stepped.step())) {
      return this;
    }
    if (stepped.error() != null) {
      return failStep("optimizer step failed: " + describe(stepped.error()));
    }
    step.computeNanos += stepped.nanos();
    if (!stepped.toAverage().isEmpty()) {
      step.phaseStarted = System.nanoTime();
      step.phase = StepRun.Phase.AVERAGE;
      allReduce(stepped.toAverage());
      return this;
    }
    return refreshOrComplete(stepped.ownedWeights());
  }

  /** On refresh steps, keeps the led groups' shards current and sends their weights to non-updaters. */
  private Behavior<Command> refreshOrComplete(Map<String, float[]> ownedWeights) {
    for (GroupPlan group : job.ownedGroups) {
      float[] weights = ownedWeights.get(group.groupId());
      if (weights != null) {
        keepShard(group, weights);
      }
    }
    if (!step.command.refresh() || job.refreshGroups.isEmpty()) {
      return completeStep();
    }
    step.phaseStarted = System.nanoTime();
    step.phase = StepRun.Phase.BROADCAST;
    for (GroupPlan group : job.refreshGroups) {
      String id = job.refreshId(group);
      step.pending.add(id);
      ProcessGroup.Broadcast broadcast = job.owns(group)
          ? new ProcessGroup.Broadcast(step.command.step(), 0, ownedWeights.get(group.groupId()),
              collectiveReplies)
          : ProcessGroup.Broadcast.receive(step.command.step(), 0, job.weightLengths.get(group.groupId()),
              collectiveReplies);
      step.broadcastBytes += 4L * job.weightLengths.get(group.groupId());
      job.groupActors.get(id).tell(broadcast);
    }
    return this;
  }

  /** Stores a group's weights of this step in its shard, if this device keeps it. */
  private void keepShard(GroupPlan group, float[] weights) {
    if (job.shardsKept.contains(group.groupId())) {
      LayerShard.storeWeights(context.getSystem(), group.shardId(), step.command.step(), weights);
    }
  }

  /** Takes in the weights of the groups this device does not update. */
  private void applyRefresh() {
    StepRun run = step;
    Job current = job;
    Map<GroupPlan, float[]> received = new LinkedHashMap<>();
    for (GroupPlan group : current.refreshGroups) {
      if (!current.owns(group)) {
        float[] weights = run.results.get(current.refreshId(group));
        received.put(group, weights);
        keepShard(group, weights);
      }
    }
    run.results.clear();
    context.pipeToSelf(DjlThread.submit(() -> {
      long start = System.nanoTime();
      received.forEach(current.runtime::importWeights);
      return new RefreshApplied(run.command.step(), System.nanoTime() - start, null);
    }), (applied, error) -> applied != null ? applied : new RefreshApplied(run.command.step(), 0, error));
  }

  private Behavior<Command> onRefreshApplied(RefreshApplied applied) {
    if (!isCurrent(applied.step())) {
      return this;
    }
    if (applied.error() != null) {
      return failStep("applying refreshed weights failed: " + describe(applied.error()));
    }
    step.computeNanos += applied.nanos();
    return completeStep();
  }

  private Behavior<Command> completeStep() {
    StepRun run = step;
    step = null;
    long baseline = job.runtime.baselineRss();
    // Resident growth is this device's only when it has the process to itself.
    long current = settings.measureMemory() ? ProcessMemory.residentBytes() - baseline : 0;
    long peak = settings.measureMemory() ? ProcessMemory.peakResidentBytes() - baseline : 0;
    StepMetrics metrics = new StepMetrics(run.loss, run.computeNanos / 1e6, run.allReduceNanos / 1e6,
        run.broadcastNanos / 1e6, run.collectiveWallNanos / 1e6, run.allReduceBytes, run.broadcastBytes,
        wireSinceLastStep(), current, peak);
    run.command.replyTo().tell(new DeviceEvent.StepCompleted(settings.name(), run.command.step(), metrics));
    return this;
  }

  /** What the transports counted since the previous step ended, by the plan's groups and kinds. */
  private List<WireBytes> wireSinceLastStep() {
    Map<String, WireTraffic.Bytes> now = WireTraffic.get(context.getSystem()).snapshot();
    Map<String, WireTraffic.Bytes> delta = WireTraffic.between(job.trafficAtLastStep, now);
    job.trafficAtLastStep = now;
    List<WireBytes> wire = new ArrayList<>();
    delta.forEach((id, bytes) -> {
      Channel channel = job.channels.getOrDefault(id,
          new Channel("", id.equals(WireTraffic.SHARD) ? WireBytes.SHARD : WireBytes.CONTROL));
      wire.add(new WireBytes(channel.group(), channel.kind(), bytes.sent(), bytes.received()));
    });
    return wire;
  }

  /** A traffic channel as the plan names it: group id (empty for none) and {@link WireBytes} kind. */
  private record Channel(String group, String kind) {}

  private Behavior<Command> failStep(String reason) {
    StepRun run = step;
    step = null;
    context.getLog().warn("job {} step {}: {}", run.command.jobId(), run.command.step(), reason);
    run.command.replyTo().tell(failed(run.command.jobId(), "step " + run.command.step() + ": " + reason));
    return this;
  }

  private boolean isCurrent(long stepNumber) {
    return step != null && step.command.step() == stepNumber;
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
      return new DeviceEvent.Evaluated(settings.name(), result[0], result[1], 0);
    });
  }

  private void onSaveCheckpoint(DeviceCommand.SaveCheckpoint save) {
    if (job == null || !job.jobId.equals(save.jobId())) {
      save.replyTo().tell(failed(save.jobId(), "no such job is prepared on this device"));
      return;
    }
    DeviceRuntime runtime = job.runtime;
    answerLater(save.replyTo(), save.jobId(), () -> {
      runtime.saveCheckpoint(Path.of(save.path()));
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
    step = null;
  }

  private DeviceEvent.Failed failed(String jobId, String reason) {
    return new DeviceEvent.Failed(settings.name(), jobId, reason);
  }

  private static String describe(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof java.util.concurrent.CompletionException
        || cause instanceof java.util.concurrent.ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }
}
