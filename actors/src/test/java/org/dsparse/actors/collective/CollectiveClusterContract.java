package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ReduceOp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * AllReduce, AllGather and Broadcast on a real cluster of {@link #members()} ActorSystems; one subclass per
 * cluster size and transport (TCP data links unless the subclass overrides the configuration). Lengths cover 1, 7, lengths not divisible by the member count, and 3.5 million.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CollectiveClusterContract {
  static final int MOBILENET_GRADIENT_FLOATS = 3_500_000;

  TestCluster cluster;
  GroupSpec spec;
  List<ActorRef<ProcessGroup.Command>> groups;
  final AtomicLong sequence = new AtomicLong();

  abstract int members();

  /** HOCON on top of the test configuration, e.g. to select the transport. */
  String configOverrides() {
    return "";
  }

  @BeforeAll
  void startCluster() {
    cluster = new TestCluster("collectives" + members(), members(), configOverrides());
    spec = cluster.groupOfAll("all");
    groups = cluster.spawn(spec);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @ParameterizedTest(name = "{0} floats")
  @ValueSource(ints = {1, 7, 100, 1_000_003})
  void allReduceMeanIsExactOnIntegerValuedFloats(int length) {
    float[][] inputs = GroupRun.integerInputs(members(), length, length);
    float[] mean = GroupRun.expected(inputs, ReduceOp.MEAN);
    float[] sum = GroupRun.expected(inputs, ReduceOp.SUM);
    float[][] again = new float[members()][];
    for (int r = 0; r < members(); r++) {
      again[r] = inputs[r].clone();
    }
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, sequence.incrementAndGet(), inputs, ReduceOp.MEAN)) {
      assertArrayEquals(mean, result);
    }
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, sequence.incrementAndGet(), again, ReduceOp.SUM)) {
      assertArrayEquals(sum, result);
    }
  }

  @ParameterizedTest(name = "{0} floats per member")
  @ValueSource(ints = {0, 1, 13, 250_001})
  void allGatherGivesEveryMemberEveryPartBitForBit(int partLength) {
    int members = members();
    float[] expected = new float[members * partLength];
    float[][] inputs = new float[members][members * partLength];
    for (int r = 0; r < members; r++) {
      for (int i = 0; i < partLength; i++) {
        // Any bit pattern, NaNs and denormals included: Top-k's indices travel as float bits.
        float value = Float.intBitsToFloat(r * 0x9E3779B1 + i * 0x85EBCA6B);
        expected[r * partLength + i] = value;
        inputs[r][r * partLength + i] = value;
      }
    }
    long seq = sequence.incrementAndGet();
    List<float[]> results = GroupRun.results(GroupRun.start(cluster, spec, groups,
        (rank, replyTo) -> new ProcessGroup.AllGather(seq, inputs[rank], replyTo)));
    for (int r = 0; r < members; r++) {
      assertArrayEquals(GroupRun.bits(expected), GroupRun.bits(results.get(r)), "rank " + r);
    }
  }

  @Test
  void allGatherOfALengthThatDoesNotSplitIntoEqualPartsIsRefused() {
    long seq = sequence.incrementAndGet();
    var probes = GroupRun.start(cluster, spec, groups,
        (rank, replyTo) -> new ProcessGroup.AllGather(seq, new float[members() * 3 + 1], replyTo));
    for (var probe : probes) {
      var failed = assertInstanceOf(ProcessGroup.Failed.class, probe.receiveMessage(GroupRun.REPLY_TIMEOUT));
      assertTrue(failed.reason().contains("equal parts"), failed.reason());
    }
  }

  @Test
  void allReduceOfMobileNetSizedRandomGradientsMatchesTheLocalMean() {
    float[][] inputs = GroupRun.gaussianInputs(members(), MOBILENET_GRADIENT_FLOATS, 7);
    float[] mean = GroupRun.expected(inputs, ReduceOp.MEAN);
    List<float[]> results = GroupRun.allReduce(cluster, spec, groups, sequence.incrementAndGet(), inputs, ReduceOp.MEAN);
    for (float[] result : results) {
      assertArrayEquals(mean, result, 1e-5f);
    }
    for (int r = 1; r < members(); r++) {
      assertArrayEquals(GroupRun.bits(results.get(0)), GroupRun.bits(results.get(r)), "all members agree bit for bit");
    }
  }

  @Test
  void collectivesQueuedBackToBackCompleteInOrderWithTheirOwnResults() {
    int count = 12;
    long first = sequence.get() + 1;
    float[][][] inputs = new float[count][][];
    List<TestProbe<ProcessGroup.CollectiveOutcome>> probes = new ArrayList<>();
    for (int rank = 0; rank < members(); rank++) {
      probes.add(cluster.node(cluster.indexOf(spec.member(rank))).createTestProbe());
    }
    for (int i = 0; i < count; i++) {
      inputs[i] = GroupRun.integerInputs(members(), 1_000 + 7_919 * i, i);
    }
    float[][] sums = new float[count][];
    for (int i = 0; i < count; i++) {
      sums[i] = GroupRun.expected(inputs[i], ReduceOp.SUM);
    }
    // Every member queues all requests at once, so members drift apart by whole collectives.
    for (int rank = 0; rank < members(); rank++) {
      for (int i = 0; i < count; i++) {
        groups.get(rank).tell(new ProcessGroup.AllReduce(first + i, inputs[i][rank], ReduceOp.SUM,
            probes.get(rank).ref()));
      }
    }
    sequence.addAndGet(count);
    for (int rank = 0; rank < members(); rank++) {
      for (int i = 0; i < count; i++) {
        var outcome = probes.get(rank).receiveMessage(GroupRun.REPLY_TIMEOUT);
        var completed = assertInstanceOf(ProcessGroup.Completed.class, outcome);
        assertEquals(first + i, completed.sequence());
        assertArrayEquals(sums[i], completed.result(), "collective " + completed.sequence() + " on rank " + rank);
      }
    }
  }

  /** Whether the data travels over the TCP links, whose one data thread per member is measured. */
  boolean overTcp() {
    return true;
  }

  @Test
  void everyMemberReportsItsDataThreadsCpuOverTcpOnly() {
    float[][] inputs = GroupRun.integerInputs(members(), 1_000_003, 11);
    long seq = sequence.incrementAndGet();
    var probes = GroupRun.start(cluster, spec, groups,
        (rank, replyTo) -> new ProcessGroup.AllReduce(seq, inputs[rank], ReduceOp.SUM, replyTo));
    for (int rank = 0; rank < members(); rank++) {
      var completed = assertInstanceOf(ProcessGroup.Completed.class, probes.get(rank).receiveMessage(GroupRun.REPLY_TIMEOUT));
      if (overTcp()) {
        assertTrue(completed.dataThreadCpuNanos() > 0, "rank " + rank + ": " + completed.dataThreadCpuNanos());
      } else {
        assertEquals(-1, completed.dataThreadCpuNanos(), "rank " + rank);
      }
    }
  }

  @ParameterizedTest(name = "{0} floats")
  @ValueSource(ints = {1, 7, MOBILENET_GRADIENT_FLOATS})
  void broadcastDeliversTheOwnersBufferBitForBit(int length) {
    int owner = members() - 1;
    float[] data = new float[length];
    Random random = new Random(length);
    for (int i = 0; i < length; i++) {
      data[i] = Float.intBitsToFloat(random.nextInt());
    }
    int[] expected = GroupRun.bits(data);
    long seq = sequence.incrementAndGet();
    List<float[]> results = GroupRun.results(GroupRun.start(cluster, spec, groups, (rank, replyTo) -> rank == owner
        ? new ProcessGroup.Broadcast(seq, owner, data, replyTo)
        : ProcessGroup.Broadcast.receive(seq, owner, length, replyTo)));
    for (float[] result : results) {
      assertArrayEquals(expected, GroupRun.bits(result));
    }
  }
}
