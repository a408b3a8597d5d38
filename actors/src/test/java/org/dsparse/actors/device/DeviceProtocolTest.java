package org.dsparse.actors.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
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
import org.dsparse.actors.job.JobPlanning;
import org.dsparse.actors.job.PlannedJob;
import org.dsparse.actors.node.LocalCluster;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.core.plan.CommunicationModel;
import org.dsparse.core.plan.DeviceBudget;
import org.dsparse.core.plan.Importance;
import org.dsparse.core.plan.Plan;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.core.plan.Planner;
import org.dsparse.core.plan.PlannerSettings;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.profile.MemoryModels;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three devices on a real in-JVM cluster, driven through the device protocol by a probe acting as
 * coordinator: the plan the devices follow is the planner's, their weights agree after every
 * refresh, each sends exactly its plan's gradients, and the loss falls.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeviceProtocolTest {
  private static final Duration ANSWER = Duration.ofSeconds(60);
  private Config config;
  private LocalCluster cluster;
  private JobSpec spec;
  private List<DeviceInfo> devices;
  private PlannedJob plan;
  private TestProbe<DeviceEvent> probe;

  @BeforeAll
  void startCluster() {
    config = ConfigFactory.parseString("""
        dsparse.job { model = small-cnn, batch = 32, learning-rate = 0.05, checkpoint-dir = "", id = protocol }
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
    // a: room for everything; b and c only for the layers after conv1, whose activations are the largest.
    cluster = LocalCluster.start(config, List.of(new LocalCluster.Member("a", "1GiB"),
        new LocalCluster.Member("b", "14MiB"), new LocalCluster.Member("c", "9MiB")), Duration.ofSeconds(30));
    spec = JobConfig.read(config).spec();
    probe = TestProbe.create(cluster.node(0).system());
    devices = describeDevices();
    plan = DjlThread.call(() -> JobPlanning.plan(spec, devices, config));
    for (DeviceInfo device : devices) {
      device.device().tell(new DeviceCommand.Prepare(spec, devices, plan.assignments().get(device.name()),
          plan.groups(), probe.getRef()));
    }
    for (int i = 0; i < devices.size(); i++) {
      assertTrue(probe.expectMessageClass(DeviceEvent.Prepared.class, ANSWER).stepsPerEpoch() > 0);
    }
  }

  @AfterAll
  void stopCluster() {
    devices.forEach(d -> d.device().tell(new DeviceCommand.EndJob(spec.jobId())));
    cluster.close();
  }

  private List<DeviceInfo> describeDevices() {
    TestProbe<Receptionist.Listing> listings = TestProbe.create(cluster.node(0).system());
    Set<ActorRef<DeviceCommand>> refs = Set.of();
    for (int attempt = 0; attempt < 100 && refs.size() < 3; attempt++) {
      cluster.node(0).system().receptionist().tell(Receptionist.find(Device.SERVICE_KEY, listings.getRef()));
      refs = listings.receiveMessage().getServiceInstances(Device.SERVICE_KEY);
      if (refs.size() < 3) {
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

  private long nextStep;

  /** Runs one step on every device and returns their reports by device name. */
  private Map<String, DeviceEvent.StepCompleted> step(boolean refresh) {
    long step = nextStep++;
    devices.forEach(d -> d.device().tell(new DeviceCommand.RunStep(spec.jobId(), 0, step, refresh, probe.getRef())));
    Map<String, DeviceEvent.StepCompleted> reports = new TreeMap<>();
    for (int i = 0; i < devices.size(); i++) {
      DeviceEvent event = probe.receiveMessage(ANSWER);
      assertTrue(event instanceof DeviceEvent.StepCompleted, event.toString());
      DeviceEvent.StepCompleted completed = (DeviceEvent.StepCompleted) event;
      assertEquals(step, completed.step());
      reports.put(completed.device(), completed);
    }
    return reports;
  }

  @Test
  void devicesFollowThePlannersPlan() {
    Plan expected = DjlThread.call(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, spec.seed())) {
        return Planner.plan(MemoryModels.of(model),
            devices.stream().map(d -> new DeviceBudget(d.name(), d.budgetBytes())).toList(),
            Importance.positional(model.layerCosts()),
            new PlannerSettings(PlanStrategy.COMMUNICATION_AWARE, spec.batch(), OptimizerKind.SGD_MOMENTUM,
                spec.refreshInterval(), new CommunicationModel(spec.planner().hopLatencySeconds(),
                    spec.planner().linkBytesPerSecond()), spec.planner().communicationWeight(), spec.planner().memoryWeight(), false,
                PlannerSettings.DEFAULT_MIN_CHANNEL_FRACTION));
      }
    });
    for (var assignment : expected.devices()) {
      UpdateSet planned = assignment.update();
      assertEquals(planned.layers().stream().boxed().toList(),
          plan.assignments().get(assignment.device()).updatedLayers(), assignment.device());
    }
    assertEquals(expected.groups().size(), plan.groups().size());
    for (int i = 0; i < plan.groups().size(); i++) {
      assertEquals(expected.groups().get(i).updaters().devices(), plan.groups().get(i).updaters());
    }
    // The budgets make a non-trivial plan: some layer is not updated by every device.
    assertTrue(plan.assignments().values().stream().anyMatch(a -> a.updatedLayers().size() < 4), plan.description());
  }

  @Test
  void eachDeviceSendsExactlyItsPlansGradientsAndWeightsAgreeAfterRefreshes(@TempDir Path dir) throws Exception {
    Map<String, Long> expectedAllReduceBytes = new TreeMap<>();
    Map<String, Long> expectedBroadcastBytes = new TreeMap<>();
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 28, 28), 10, spec.seed())) {
        for (DeviceInfo d : devices) {
          long allReduce = 0;
          long broadcast = 0;
          for (GroupPlan g : plan.groups()) {
            int[] layers = g.layers().stream().mapToInt(Integer::intValue).toArray();
            long trainable = 0;
            for (int layer : layers) {
              trainable += model.layer(layer).trainableParams();
            }
            if (g.isAllReduce() && g.updaters().contains(d.name())) {
              allReduce += 4 * (trainable + model.bufferLength(layers));
            }
            boolean receiver = !g.updaters().contains(d.name());
            boolean sends = g.owner().equals(d.name()) && g.updaters().size() < devices.size();
            if (receiver || sends) {
              broadcast += 4L * model.weightLength(layers);
            }
          }
          expectedAllReduceBytes.put(d.name(), allReduce);
          expectedBroadcastBytes.put(d.name(), broadcast);
        }
      }
    });
    for (int i = 0; i < 3; i++) {
      Map<String, DeviceEvent.StepCompleted> reports = step(i == 2);
      for (DeviceInfo d : devices) {
        assertEquals(expectedAllReduceBytes.get(d.name()), reports.get(d.name()).metrics().allReduceBytes(), d.name());
        assertEquals(i == 2 ? expectedBroadcastBytes.get(d.name()) : 0L,
            reports.get(d.name()).metrics().broadcastBytes(), d.name());
      }
    }
    List<byte[]> checkpoints = new ArrayList<>();
    for (DeviceInfo d : devices) {
      Path path = dir.resolve(d.name() + ".ckpt");
      d.device().tell(new DeviceCommand.SaveCheckpoint(spec.jobId(), path.toString(), probe.getRef()));
      probe.expectMessageClass(DeviceEvent.CheckpointSaved.class, ANSWER);
      checkpoints.add(Files.readAllBytes(path));
    }
    // Every weight and BatchNorm statistic of every layer, bit for bit, on all three devices.
    assertArrayEquals(checkpoints.get(0), checkpoints.get(1));
    assertArrayEquals(checkpoints.get(0), checkpoints.get(2));
  }

  @Test
  void lossFalls() {
    double first = 0;
    double last = 0;
    int steps = 30;
    for (int i = 0; i < steps; i++) {
      double mean = step(true).values().stream().mapToDouble(r -> r.metrics().loss()).average().orElseThrow();
      if (i < 5) {
        first += mean / 5;
      } else if (i >= steps - 5) {
        last += mean / 5;
      }
    }
    assertTrue(last < first - 0.3, "mean loss " + first + " -> " + last);
  }
}
