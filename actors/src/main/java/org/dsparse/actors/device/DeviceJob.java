package org.dsparse.actors.device;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.dsparse.actors.collective.CollectiveSettings;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.collective.GroupSpec;
import org.dsparse.actors.collective.ProcessGroup;
import org.dsparse.actors.step.Compute;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.DeviceStep;
import org.dsparse.actors.step.ModeRuntime;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.protocol.wire.WireTraffic;
import org.dsparse.training.trainer.DjlThread;

/**
 * A device's part of one prepared job: its mode's runtime, its process groups (as child actors of
 * the device) and its step. Which phase the job is in (ready, a step running, abandoned) is the
 * Device's behaviour, not this.
 */
final class DeviceJob {
  final String jobId;
  final ModeRuntime runtime;
  final DeviceGroups groups;
  final DeviceStep pipeline;
  /** The groups whose LayerShard this device keeps: it stores their state there at every committed step. */
  final List<GroupPlan> keptShards;
  /** The cluster address of the job's coordinator; empty when it runs on this node. */
  final String coordinator;
  private final List<ActorRef<ProcessGroup.Command>> groupActors = new ArrayList<>();
  private final ActorContext<?> context;
  /** The network counters when the previous step ended (or the job was ready). Actor only. */
  private Map<String, WireTraffic.Bytes> trafficAtLastStep;

  /** Forms {@code device}'s groups of the job {@code prepare} describes, and its step over them. */
  DeviceJob(ActorContext<?> context, String device, DeviceCommand.Prepare prepare, ModeRuntime runtime,
      CollectiveSettings collectiveSettings, Compute compute) {
    this.context = context;
    this.jobId = prepare.spec().jobId();
    this.runtime = runtime;
    var coordinatorAddress = prepare.replyTo().path().address();
    this.coordinator = coordinatorAddress.hasGlobalScope() ? coordinatorAddress.toString() : "";
    Map<String, String> addresses = new LinkedHashMap<>();
    prepare.devices().forEach(d -> addresses.put(d.name(), d.address()));
    this.groups = runtime.groups(device, jobId, prepare.groups(), List.copyOf(addresses.keySet()));
    Map<String, ActorRef<ProcessGroup.Command>> actors = new HashMap<>();
    try {
      for (DeviceGroups.Collective collective : groups.collectives().values()) {
        ActorRef<ProcessGroup.Command> actor = spawnGroup(collective, addresses, collectiveSettings);
        actors.put(collective.id(), actor);
        groupActors.add(actor);
      }
    } catch (RuntimeException e) {
      stopGroups();
      throw e;
    }
    this.keptShards = prepare.groups().stream().filter(g -> groups.keptShards().contains(g.groupId())).toList();
    // A collective's members fail it at its deadline; the ask waits longer, as a last resort.
    Duration answerWithin = collectiveSettings.deadline().multipliedBy(2).plusSeconds(10);
    this.pipeline = runtime.pipeline(groups, Collectives.of(actors, answerWithin, context.getSystem().scheduler()),
        compute);
    pipeline.denseGroups().forEach((group, why) -> context.getLog().info(
        "job {}: group {} sends its gradients uncompressed ({}): compression {} cannot reach its ratio there",
        jobId, group, why, prepare.spec().compression().kind()));
    this.trafficAtLastStep = WireTraffic.get(context.getSystem()).snapshot();
  }

  private ActorRef<ProcessGroup.Command> spawnGroup(DeviceGroups.Collective collective, Map<String, String> addresses,
      CollectiveSettings collectiveSettings) {
    List<Address> memberAddresses = new ArrayList<>();
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

  /** What the transports counted since the previous step ended, by the plan's groups and kinds. */
  List<WireBytes> wireSinceLastStep() {
    Map<String, WireTraffic.Bytes> now = WireTraffic.get(context.getSystem()).snapshot();
    Map<String, WireTraffic.Bytes> delta = WireTraffic.between(trafficAtLastStep, now);
    trafficAtLastStep = now;
    List<WireBytes> wire = new ArrayList<>();
    delta.forEach((id, bytes) -> {
      DeviceGroups.Collective collective = groups.collectives().get(id);
      wire.add(collective != null
          ? new WireBytes(collective.group().groupId(), collective.kind(), bytes.sent(), bytes.received())
          : new WireBytes("", id.equals(WireTraffic.SHARD) ? WireBytes.SHARD : WireBytes.CONTROL, bytes.sent(),
              bytes.received()));
    });
    return wire;
  }

  /**
   * Stops the job's step: no further model work of it runs and its groups stop (failing their
   * collectives). The model and data stay.
   */
  void abandonStep() {
    pipeline.cancel();
    stopGroups();
  }

  private void stopGroups() {
    groupActors.forEach(context::stop);
    groupActors.clear();
  }

  /** Stops its groups and closes its runtime behind the model work queued so far. */
  void stop() {
    stopGroups();
    DjlThread.submit(() -> {
      runtime.close();
      return null;
    });
  }
}
