package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ReduceOp;

/** Issues one collective on every member of a group and collects the outcomes, rank by rank. */
final class GroupRun {
  static final Duration REPLY_TIMEOUT = Duration.ofSeconds(60);

  private GroupRun() {}

  /** Sends {@code request(rank, replyTo)} to every member's group actor without waiting. */
  static List<TestProbe<ProcessGroup.CollectiveOutcome>> start(TestCluster cluster, GroupSpec spec,
      List<ActorRef<ProcessGroup.Command>> groups,
      BiFunction<Integer, ActorRef<ProcessGroup.CollectiveOutcome>, ProcessGroup.Command> request) {
    List<TestProbe<ProcessGroup.CollectiveOutcome>> probes = new ArrayList<>();
    for (int rank = 0; rank < spec.size(); rank++) {
      TestProbe<ProcessGroup.CollectiveOutcome> probe =
          cluster.node(cluster.indexOf(spec.member(rank))).createTestProbe();
      groups.get(rank).tell(request.apply(rank, probe.ref()));
      probes.add(probe);
    }
    return probes;
  }

  /** Every member's result; fails if any member reports a failure. */
  static List<float[]> results(List<TestProbe<ProcessGroup.CollectiveOutcome>> probes) {
    List<float[]> results = new ArrayList<>();
    for (int rank = 0; rank < probes.size(); rank++) {
      ProcessGroup.CollectiveOutcome outcome = probes.get(rank).receiveMessage(REPLY_TIMEOUT);
      ProcessGroup.Completed completed = assertInstanceOf(ProcessGroup.Completed.class, outcome,
          () -> "rank " + probes.size() + ": " + outcome);
      results.add(completed.result());
    }
    return results;
  }

  static List<float[]> allReduce(TestCluster cluster, GroupSpec spec, List<ActorRef<ProcessGroup.Command>> groups,
      long sequence, float[][] inputs, ReduceOp op) {
    List<float[]> results = results(start(cluster, spec, groups,
        (rank, replyTo) -> new ProcessGroup.AllReduce(sequence, inputs[rank], op, replyTo)));
    for (int rank = 0; rank < results.size(); rank++) {
      assertEquals(inputs[rank], results.get(rank), "AllReduce works in place");
    }
    return results;
  }

  /** Integer-valued floats in [-1000, 1000]: sums and means of a few of them are exact in float. */
  static float[][] integerInputs(int members, int length, long seed) {
    Random random = new Random(seed);
    float[][] inputs = new float[members][length];
    for (float[] input : inputs) {
      for (int i = 0; i < length; i++) {
        input[i] = random.nextInt(2001) - 1000;
      }
    }
    return inputs;
  }

  static float[][] gaussianInputs(int members, int length, long seed) {
    Random random = new Random(seed);
    float[][] inputs = new float[members][length];
    for (float[] input : inputs) {
      for (int i = 0; i < length; i++) {
        input[i] = (float) random.nextGaussian();
      }
    }
    return inputs;
  }

  /** Element-wise sum (or mean) computed locally, before the inputs are reduced in place. */
  static float[] expected(float[][] inputs, ReduceOp op) {
    float[] out = new float[inputs[0].length];
    for (float[] input : inputs) {
      for (int i = 0; i < out.length; i++) {
        out[i] += input[i];
      }
    }
    if (op == ReduceOp.MEAN) {
      for (int i = 0; i < out.length; i++) {
        out[i] /= inputs.length;
      }
    }
    return out;
  }

  static int[] bits(float[] values) {
    int[] bits = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      bits[i] = Float.floatToRawIntBits(values[i]);
    }
    return bits;
  }
}
