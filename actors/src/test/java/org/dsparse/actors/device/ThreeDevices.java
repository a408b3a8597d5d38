package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobCoordinator;
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.collective.ChunkLayout;
import org.dsparse.core.collective.MemberParts;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.core.collective.RingAllReduceSchedule;
import org.dsparse.core.collective.WireVolume;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;

/**
 * Three devices on a real in-JVM cluster and a probe that drives them through the device protocol
 * as a coordinator would.
 */
final class ThreeDevices implements AutoCloseable {
  static final Duration ANSWER = Duration.ofSeconds(60);
  final Config config;
  final LocalCluster cluster;
  final JobSpec spec;
  final List<DeviceInfo> devices;
  final TestProbe<DeviceEvent> probe;
  private long nextStep;
  private OverlapScheduler overlap = OverlapScheduler.fixed(List.of());
  /** The cuts of each step run, in order. */
  final List<List<Integer>> stepCuts = new ArrayList<>();

  ThreeDevices(Config config, List<LocalCluster.Member> members) {
    this.config = config;
    this.cluster = LocalCluster.start(config, members, Duration.ofSeconds(30));
    this.spec = JobConfig.read(config).spec();
    this.probe = TestProbe.create(cluster.node(0).system());
    this.devices = describeDevices(members.size());
  }

  private List<DeviceInfo> describeDevices(int count) {
    TestProbe<Receptionist.Listing> listings = TestProbe.create(cluster.node(0).system());
    Set<ActorRef<DeviceCommand>> refs = Set.of();
    for (int attempt = 0; attempt < 100 && refs.size() < count; attempt++) {
      cluster.node(0).system().receptionist().tell(Receptionist.find(Device.SERVICE_KEY, listings.getRef()));
      refs = listings.receiveMessage().getServiceInstances(Device.SERVICE_KEY);
      if (refs.size() < count) {
        sleep(100);
      }
    }
    List<DeviceInfo> result = new ArrayList<>();
    for (ActorRef<DeviceCommand> ref : refs) {
      ref.tell(new DeviceCommand.Describe(probe.getRef()));
      DeviceEvent.Described d = probe.expectMessageClass(DeviceEvent.Described.class, ANSWER);
      result.add(new DeviceInfo(d.device(), d.address(), d.budgetBytes(), d.self()));
    }
    result.sort(Comparator.comparing(DeviceInfo::name));
    return result;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Sends every device its part of the plan and waits until all are prepared. */
  void prepare(PlannedJob plan) {
    for (DeviceInfo device : devices) {
      device.device().tell(new DeviceCommand.Prepare(spec, devices, plan.assignments().get(device.name()),
          plan.groups(), probe.getRef()));
    }
    overlap = JobPlanning.overlapScheduler(spec, plan);
    for (int i = 0; i < devices.size(); i++) {
      DeviceEvent event = probe.receiveMessage(ANSWER);
      assertTrue(event instanceof DeviceEvent.Prepared prepared && prepared.stepsPerEpoch() > 0, event.toString());
    }
  }

  /** Runs one step on every device and returns their reports by device name. */
  Map<String, DeviceEvent.StepCompleted> step(boolean refresh) {
    return step(refresh, refresh);
  }

  /** One step that, with periodic model averaging, averages the groups' weights when {@code average}. */
  Map<String, DeviceEvent.StepCompleted> step(boolean average, boolean refresh) {
    return step(average, refresh, false);
  }

  /** The same, followed by an evaluation when {@code evaluated}. */
  Map<String, DeviceEvent.StepCompleted> step(boolean average, boolean refresh, boolean evaluated) {
    return step(average, refresh, evaluated, false);
  }

  /** The same; {@code snapshot}: the previous step is committed, as the coordinator says after a refresh. */
  Map<String, DeviceEvent.StepCompleted> step(boolean average, boolean refresh, boolean evaluated, boolean snapshot) {
    return step(average, Refresh.exactIf(refresh), evaluated, snapshot);
  }

  /** The same with a refresh of kind {@code refresh} (exact or compressed). */
  Map<String, DeviceEvent.StepCompleted> step(boolean average, Refresh refresh, boolean evaluated, boolean snapshot) {
    long step = nextStep++;
    List<Integer> cuts = overlap.cutsFor(step);
    stepCuts.add(cuts);
    devices.forEach(d -> d.device().tell(
        new DeviceCommand.RunStep(spec.jobId(), 0, (int) step, step, average, refresh, evaluated, cuts, snapshot,
            probe.getRef())));
    Map<String, DeviceEvent.StepCompleted> reports = new TreeMap<>();
    Map<String, OverlapScheduler.SegmentTimes> segments = new TreeMap<>();
    for (int i = 0; i < devices.size(); i++) {
      DeviceEvent event = probe.receiveMessage(ANSWER);
      assertTrue(event instanceof DeviceEvent.StepCompleted, event.toString());
      DeviceEvent.StepCompleted completed = (DeviceEvent.StepCompleted) event;
      assertEquals(step, completed.step());
      reports.put(completed.device(), completed);
      segments.put(completed.device(), JobCoordinator.segmentTimes(completed.metrics().segments()));
    }
    // As the coordinator does: what the step measured chooses later cuts.
    overlap.observe(step, segments);
    return reports;
  }

  /**
   * Every device's weights and BatchNorm statistics, from the checkpoint it saves into {@code dir},
   * as bytes, in device order (the files differ in the optimizer state each device keeps).
   */
  List<byte[]> checkpoints(Path dir) throws IOException {
    List<byte[]> result = new ArrayList<>();
    for (DeviceInfo d : devices) {
      Path path = dir.resolve(d.name() + ".ckpt");
      d.device().tell(new DeviceCommand.SaveCheckpoint(spec.jobId(), path.toString(), 0, nextStep, "", probe.getRef()));
      probe.expectMessageClass(DeviceEvent.CheckpointSaved.class, ANSWER);
      result.add(weights(path, spec));
    }
    return result;
  }

  /** The weights and BatchNorm statistics a checkpoint of a job on 28x28 images of 10 classes holds, as bytes. */
  static byte[] weights(Path checkpoint, JobSpec spec) {
    return DjlThread.call(() -> {
      try (LayeredModel model = Models.create(spec.model(), new Shape(1, 28, 28), 10, spec.seed())) {
        Checkpoint.load(model, checkpoint);
        float[] weights = model.exportWeights(java.util.stream.IntStream.range(0, model.layerCount()).toArray());
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(4 * weights.length);
        bytes.asFloatBuffer().put(weights);
        return bytes.array();
      }
    });
  }

  /**
   * Per device, the bytes its plan makes it contribute: {AllReduce per step, Broadcast per refresh
   * step}. Computed from a fresh model of the job, slice by slice, independently of the devices.
   */
  Map<String, long[]> plannedBytes(PlannedJob plan) {
    Map<String, long[]> result = new TreeMap<>();
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create(spec.model(), new Shape(1, 28, 28), 10, spec.seed())) {
        for (DeviceInfo d : devices) {
          long allReduce = 0;
          long broadcast = 0;
          for (GroupPlan g : plan.groups()) {
            long bytes = 0;
            for (GroupPlan.Slice s : g.slices()) {
              ChannelSlice slice = new ChannelSlice(s.layer(), s.from(), s.to());
              bytes += 4L * (model.trainableLength(List.of(slice)) + model.bufferLength(List.of(slice)));
            }
            if (g.isAllReduce() && g.updaters().contains(d.name())) {
              allReduce += bytes;
            }
            boolean receiver = !g.updaters().contains(d.name());
            boolean sends = g.owner().equals(d.name()) && g.updaters().size() < devices.size();
            if (receiver || sends) {
              broadcast += bytes;
            }
          }
          result.put(d.name(), new long[] {allReduce, broadcast});
        }
      }
    });
    return result;
  }

  /**
   * Per device, the bytes the plan makes its TCP data links carry on a step that aggregates and
   * refreshes: {AllReduce sent, AllReduce received, Broadcast and refresh sent, received}, from the
   * groups' ring and chain schedules (ranks as the devices form them: updaters in plan order; the
   * owner first, then the other devices in job order, for a refresh) and the same payload lengths as
   * {@link #plannedBytes}.
   */
  Map<String, long[]> plannedWireBytes(PlannedJob plan, int chunkFloats) {
    Map<String, long[]> payload = new TreeMap<>();
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create(spec.model(), new Shape(1, 28, 28), 10, spec.seed())) {
        for (GroupPlan g : plan.groups()) {
          long[] floats = new long[g.slices().size()];
          for (int i = 0; i < floats.length; i++) {
            GroupPlan.Slice s = g.slices().get(i);
            ChannelSlice slice = new ChannelSlice(s.layer(), s.from(), s.to());
            floats[i] = model.trainableLength(List.of(slice)) + model.bufferLength(List.of(slice));
          }
          payload.put(g.groupId(), floats);
        }
      }
    });
    Map<String, long[]> result = new TreeMap<>();
    for (DeviceInfo d : devices) {
      long[] bytes = new long[4];
      for (GroupPlan g : plan.groups()) {
        long[] sliceFloats = payload.get(g.groupId());
        int length = (int) java.util.Arrays.stream(sliceFloats).sum();
        int rank = g.updaters().indexOf(d.name());
        if (g.isAllReduce() && rank >= 0) {
          // The gradient payload's member parts: piece p of every slice in part p.
          int members = g.updaters().size();
          int[] parts = MemberParts.partLengths(java.util.Arrays.stream(sliceFloats).mapToInt(f -> (int) f).toArray(),
              members);
          RingAllReduceSchedule ring = new RingAllReduceSchedule(members, rank, ChunkLayout.ofParts(parts, chunkFloats));
          bytes[0] += members < 2 ? 0 : WireVolume.sentBytes(ring);
          bytes[1] += members < 2 ? 0 : WireVolume.receivedBytes(ring);
        }
        List<String> members = new ArrayList<>(List.of(g.owner()));
        devices.stream().map(DeviceInfo::name).filter(n -> !g.updaters().contains(n)).forEach(members::add);
        int member = members.indexOf(d.name());
        if (members.size() > 1 && member >= 0) {
          bytes[2] += WireVolume.chainBroadcastSentBytes(members.size(), member, 0, length, chunkFloats);
          bytes[3] += WireVolume.chainBroadcastReceivedBytes(members.size(), member, 0, length, chunkFloats);
        }
      }
      result.put(d.name(), bytes);
    }
    return result;
  }

  @Override
  public void close() {
    devices.forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    cluster.close();
  }
}
