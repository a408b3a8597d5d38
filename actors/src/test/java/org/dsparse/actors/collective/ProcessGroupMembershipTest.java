package org.dsparse.actors.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.ReduceOp;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.FloatSlice;
import org.dsparse.protocol.collective.PeerMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Groups that overlap, intruders, disagreeing and silent members, and a member that goes away, on
 * a cluster of three nodes. The last test stops node 2.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProcessGroupMembershipTest {
  private static final Duration DEADLINE = Duration.ofSeconds(3);
  /** A failure must arrive within the configured deadline; the slack absorbs scheduling on 2 cores. */
  private static final Duration WITHIN_DEADLINE = DEADLINE.plusSeconds(1);

  private TestCluster cluster;

  @BeforeAll
  void startCluster() {
    cluster = new TestCluster("membership", 3);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @Test
  @Order(1)
  void overlappingGroupsRunTheirCollectivesAtTheSameTime() {
    List<GroupSpec> specs = List.of(cluster.group("a", 0, 1, 2), cluster.group("b", 2, 0), cluster.group("c", 1, 2));
    List<List<ActorRef<ProcessGroup.Command>>> groups = specs.stream().map(cluster::spawn).toList();
    int length = 1_000_003;
    float[][][] inputs = new float[specs.size()][][];
    float[][] expected = new float[specs.size()][];
    var runs = new java.util.ArrayList<List<TestProbe<ProcessGroup.CollectiveOutcome>>>();
    for (int g = 0; g < specs.size(); g++) {
      float[][] in = GroupRun.integerInputs(specs.get(g).size(), length, g);
      inputs[g] = in;
      expected[g] = GroupRun.expected(in, ReduceOp.SUM);
      runs.add(GroupRun.start(cluster, specs.get(g), groups.get(g),
          (rank, replyTo) -> new ProcessGroup.AllReduce(1, in[rank], ReduceOp.SUM, replyTo)));
    }
    for (int g = 0; g < specs.size(); g++) {
      for (float[] result : GroupRun.results(runs.get(g))) {
        assertArrayEquals(expected[g], result, "group " + specs.get(g).groupId());
      }
    }
  }

  @Test
  @Order(2)
  void chunksFromNonMembersOrForeignOrStaleCollectivesAreCountedAndNeverSummed() throws IOException {
    GroupSpec spec = cluster.group("guarded", 0, 1);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    float[][] warmUp = GroupRun.integerInputs(2, 10, 1);
    GroupRun.allReduce(cluster, spec, groups, 1, warmUp, ReduceOp.SUM);

    ActorRef<PeerMessage> rank0 = groups.get(0).unsafeUpcast();
    ActorRef<PeerMessage> rank1 = groups.get(1).unsafeUpcast();
    float[] poison = new float[] {1e9f, 1e9f, 1e9f, 1e9f, 1e9f};
    // Node 2 is not in the group; an actor on node 1 other than its group actor is not a member either.
    ActorRef<PeerMessage> outsider = cluster.node(2).<PeerMessage>createTestProbe().ref();
    ActorRef<PeerMessage> impostor = cluster.node(1).<PeerMessage>createTestProbe().ref();
    ActorRef<PeerMessage> rank0FromNode2 = cluster.seenFrom(2, rank0, cluster.node(0));
    ActorRef<PeerMessage> rank0FromNode1 = cluster.seenFrom(1, rank0, cluster.node(0));
    ActorRef<PeerMessage> rank1AsNode1SeesIt = rank1;
    rank0FromNode2.tell(new Chunk("guarded", 2, 0, 0, outsider, FloatSlice.of(poison)));
    rank0FromNode1.tell(new Chunk("guarded", 2, 0, 0, impostor, FloatSlice.of(poison)));
    rank0FromNode1.tell(new Chunk("guarded", 1, 0, 0, rank1AsNode1SeesIt, FloatSlice.of(poison)));
    rank0FromNode1.tell(new Chunk("other-group", 2, 0, 0, rank1AsNode1SeesIt, FloatSlice.of(poison)));

    TestProbe<ProcessGroup.GroupStats> stats = cluster.node(0).createTestProbe();
    groups.get(0).tell(new ProcessGroup.GetStats(stats.ref()));
    String[] endpoint = stats.receiveMessage().dataEndpoint().orElseThrow().split(":");
    // A connection to the bulk data port that cannot present the token sent over the cluster.
    try (SocketChannel intruder = SocketChannel.open(new InetSocketAddress(endpoint[0], Integer.parseInt(endpoint[1])))) {
      ByteBuffer hello = ByteBuffer.allocate(64);
      hello.putInt(0x44535031).putInt(7).put("guarded".getBytes(StandardCharsets.UTF_8)).putInt(1).putLong(1)
          .putLong(42).flip();
      intruder.write(hello);
      assertEquals(-1, intruder.read(ByteBuffer.allocate(1)), "the listener hangs up on an intruder");
    }
    stats.awaitAssert(Duration.ofSeconds(10), () -> {
      groups.get(0).tell(new ProcessGroup.GetStats(stats.ref()));
      ProcessGroup.GroupStats seen = stats.receiveMessage();
      assertEquals(3, seen.rejected(ChunkRejection.NON_MEMBER), seen.toString());
      assertEquals(1, seen.rejected(ChunkRejection.STALE_SEQUENCE), seen.toString());
      assertEquals(1, seen.rejected(ChunkRejection.FOREIGN_GROUP), seen.toString());
      return null;
    });

    float[][] inputs = GroupRun.integerInputs(2, 10, 2);
    float[] sum = GroupRun.expected(inputs, ReduceOp.SUM);
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, 2, inputs, ReduceOp.SUM)) {
      assertArrayEquals(sum, result);
    }
  }

  @Test
  @Order(2)
  void aMessageThatFailsToDeserializeIsDroppedAndTheReceiverCarriesOn() {
    GroupSpec spec = cluster.group("sturdy", 0, 1);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    GroupRun.allReduce(cluster, spec, groups, 1, GroupRun.integerInputs(2, 10, 8), ReduceOp.SUM);
    // Serializes fine, but the receiver refuses a group id this long: Artery logs and drops it.
    ActorRef<PeerMessage> rank0FromNode1 = cluster.seenFrom(1, groups.get(0).unsafeUpcast(), cluster.node(0));
    rank0FromNode1.tell(new Chunk("x".repeat(20_000), 2, 0, 0, groups.get(1).unsafeUpcast(),
        FloatSlice.of(new float[] {1e9f})));
    float[][] inputs = GroupRun.integerInputs(2, 1000, 9);
    float[] sum = GroupRun.expected(inputs, ReduceOp.SUM);
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, 2, inputs, ReduceOp.SUM)) {
      assertArrayEquals(sum, result);
    }
    TestProbe<ProcessGroup.GroupStats> stats = cluster.node(0).createTestProbe();
    groups.get(0).tell(new ProcessGroup.GetStats(stats.ref()));
    assertTrue(stats.receiveMessage().rejectedChunks().isEmpty(), "the malformed message never reached the actor");
  }

  @Test
  @Order(2)
  void aGroupOfOneCompletesAtOnceWithItsOwnBuffer() {
    GroupSpec spec = cluster.group("solo", 1);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    float[][] inputs = {{1f, -2f, 3.5f}};
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, 1, inputs, ReduceOp.MEAN)) {
      assertArrayEquals(new float[] {1f, -2f, 3.5f}, result);
    }
  }

  @Test
  @Order(3)
  void membersThatDisagreeOnTheCollectiveFailItNamingEachOther() {
    GroupSpec spec = cluster.group("disagree", 0, 1);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    var probes = GroupRun.start(cluster, spec, groups,
        (rank, replyTo) -> new ProcessGroup.AllReduce(1, new float[10 + rank], ReduceOp.SUM, replyTo));
    for (int rank = 0; rank < 2; rank++) {
      var failed = assertInstanceOf(ProcessGroup.Failed.class, probes.get(rank).receiveMessage(WITHIN_DEADLINE));
      assertTrue(failed.reason().contains("floats"), failed.reason());
      assertTrue(failed.missingMember().isPresent());
    }
  }

  @Test
  @Order(4)
  void theBlockingHelperReturnsResultsAndThrowsNamingTheMissingMember() throws Exception {
    GroupSpec spec = cluster.group("blocking", 0, 1);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    float[][] inputs = GroupRun.integerInputs(2, 1000, 3);
    float[] mean = GroupRun.expected(inputs, ReduceOp.MEAN);
    Duration timeout = DEADLINE.multipliedBy(2);
    var other = CompletableFuture.supplyAsync(() -> call(() ->
        BlockingCollectives.allReduce(cluster.node(1).system(), groups.get(1), 1, inputs[1], ReduceOp.MEAN, timeout)));
    assertArrayEquals(mean, BlockingCollectives.allReduce(cluster.node(0).system(), groups.get(0), 1, inputs[0], ReduceOp.MEAN,
        timeout));
    assertArrayEquals(mean, other.get());

    var failure = assertThrows(CollectiveFailedException.class, () ->
        BlockingCollectives.allReduce(cluster.node(0).system(), groups.get(0), 2, new float[5], ReduceOp.SUM, timeout));
    assertEquals(Optional.of(cluster.address(1).toString()), failure.missingMember());
  }

  @Test
  @Order(5)
  void aSilentMemberIsNamedByEverySurvivorWithinTheDeadline() {
    GroupSpec spec = cluster.group("silent", 0, 1, 2);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    GroupRun.allReduce(cluster, spec, groups, 1, GroupRun.integerInputs(3, 100, 4), ReduceOp.SUM);
    List<TestProbe<ProcessGroup.CollectiveOutcome>> probes = List.of(
        cluster.node(0).createTestProbe(), cluster.node(1).createTestProbe());
    for (int rank = 0; rank < 2; rank++) {
      groups.get(rank).tell(new ProcessGroup.AllReduce(2, new float[100_000], ReduceOp.SUM, probes.get(rank).ref()));
    }
    for (var probe : probes) {
      var failed = assertInstanceOf(ProcessGroup.Failed.class,
          probe.receiveMessage(DEADLINE.plus(WITHIN_DEADLINE)));
      assertEquals(Optional.of(cluster.address(2).toString()), failed.missingMember(), failed.reason());
    }
    // The late member learns at once that its peers gave this collective up.
    TestProbe<ProcessGroup.CollectiveOutcome> late = cluster.node(2).createTestProbe();
    groups.get(2).tell(new ProcessGroup.AllReduce(2, new float[100_000], ReduceOp.SUM, late.ref()));
    assertInstanceOf(ProcessGroup.Failed.class, late.receiveMessage(Duration.ofSeconds(1)));
    // ... and the group carries on with the next collective.
    float[][] inputs = GroupRun.integerInputs(3, 100, 5);
    float[] sum = GroupRun.expected(inputs, ReduceOp.SUM);
    for (float[] result : GroupRun.allReduce(cluster, spec, groups, 3, inputs, ReduceOp.SUM)) {
      assertArrayEquals(sum, result);
    }
  }

  @Test
  @Order(6)
  void aMemberStoppedMidCollectiveMakesTheOthersFailNamingItWithinTheDeadline() {
    GroupSpec spec = cluster.group("stopped", 0, 1, 2);
    List<ActorRef<ProcessGroup.Command>> groups = cluster.spawn(spec);
    GroupRun.allReduce(cluster, spec, groups, 1, GroupRun.integerInputs(3, 100, 6), ReduceOp.SUM);
    // All three are under way, data flowing round the ring (twice MobileNetV2's gradients take far
    // longer than stopping a node), when node 2 goes away.
    List<TestProbe<ProcessGroup.CollectiveOutcome>> probes = List.of(
        cluster.node(0).createTestProbe(), cluster.node(1).createTestProbe());
    TestProbe<ProcessGroup.CollectiveOutcome> doomed = cluster.node(2).createTestProbe();
    for (int rank = 0; rank < 3; rank++) {
      groups.get(rank).tell(new ProcessGroup.AllReduce(2,
          new float[2 * CollectiveClusterContract.MOBILENET_GRADIENT_FLOATS], ReduceOp.MEAN,
          rank < 2 ? probes.get(rank).ref() : doomed.ref()));
    }
    String stopped = cluster.address(2).toString();
    call(() -> {
      Thread.sleep(5);
      return null;
    });
    cluster.stop(2);
    for (var probe : probes) {
      var failed = assertInstanceOf(ProcessGroup.Failed.class, probe.receiveMessage(WITHIN_DEADLINE));
      assertEquals(Optional.of(stopped), failed.missingMember(), failed.reason());
    }
    TestProbe<ProcessGroup.CollectiveOutcome> next = cluster.node(0).createTestProbe();
    groups.get(0).tell(new ProcessGroup.AllReduce(3, new float[10], ReduceOp.SUM, next.ref()));
    var failed = assertInstanceOf(ProcessGroup.Failed.class, next.receiveMessage(Duration.ofSeconds(1)));
    assertEquals(Optional.of(stopped), failed.missingMember(), "the group stays broken: " + failed.reason());
  }

  private interface Call<T> {
    T run() throws Exception;
  }

  private static <T> T call(Call<T> call) {
    try {
      return call.run();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
