package org.dsparse.actors.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.actors.shard.LayerShard.Command;
import org.dsparse.actors.shard.LayerShard.GetWeights;
import org.dsparse.actors.shard.LayerShard.GetWeightsParts;
import org.dsparse.actors.shard.LayerShard.StoreWeights;
import org.dsparse.actors.shard.LayerShard.StoreWeightsPart;
import org.dsparse.actors.shard.LayerShard.WeightsPart;
import org.dsparse.actors.shard.LayerShard.WeightsSnapshot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** One LayerShard entity spawned directly: versions and parts, without sharding around it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LayerShardEntityTest {
  private ActorTestKit node;

  @BeforeAll
  void start() {
    node = ActorTestKit.create("entity", ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical { hostname = 127.0.0.1, port = 0 }
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.loglevel = WARNING
        dsparse.shard.weights-chunk-size = 8 B
        """).withFallback(ConfigFactory.load()));
  }

  @AfterAll
  void stop() {
    node.shutdownTestKit();
  }

  @Test
  void partsInAnyOrderMakeAVersionOnceAllArrived() {
    ActorRef<Command> shard = node.spawn(LayerShard.create("g1"));
    shard.tell(new StoreWeightsPart(4, 2, 5, new float[] {3, 4}));
    shard.tell(new StoreWeightsPart(4, 0, 5, new float[] {1, 2}));
    assertFalse(weights(shard).hasWeights(), "two of three parts are not a version");
    shard.tell(new StoreWeightsPart(4, 4, 5, new float[] {5}));
    WeightsSnapshot stored = weights(shard);
    assertEquals(4, stored.version());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5}, stored.weights());

    shard.tell(new StoreWeights(3, new float[] {9}));
    shard.tell(new StoreWeightsPart(4, 0, 5, new float[] {9, 9}));
    assertEquals(4, weights(shard).version(), "older and equal versions are ignored");
  }

  @Test
  void optimizerStateInPartsComesBackApartFromTheWeights() {
    ActorRef<Command> shard = node.spawn(LayerShard.create("g4"));
    // Three weights, then the optimizer state of two slices (one value each), in parts of two floats.
    int[] lengths = {1, 1};
    shard.tell(new StoreWeightsPart(2, 0, 5, 3, 7, lengths, new float[] {1, 2}));
    shard.tell(new StoreWeightsPart(2, 2, 5, 3, 7, lengths, new float[] {3, 10}));
    shard.tell(new StoreWeightsPart(2, 4, 5, 3, 7, lengths, new float[] {20}));
    WeightsSnapshot stored = weights(shard);
    assertEquals(2, stored.version());
    assertArrayEquals(new float[] {1, 2, 3}, stored.weights());
    assertArrayEquals(new float[] {10, 20}, stored.optimizer());
    assertEquals(7, stored.optimizerUpdates());

    TestProbe<WeightsPart> parts = node.createTestProbe();
    shard.tell(new GetWeightsParts(parts.getRef()));
    WeightsPart first = parts.receiveMessage();
    WeightsPart second = parts.receiveMessage();
    assertEquals(3, second.totalLength(), "a reader that keeps no optimizer state is sent the weights alone");
    assertArrayEquals(new float[] {1, 2, 3}, new float[] {first.part()[0], first.part()[1], second.part()[0]});
    parts.expectNoMessage(Duration.ofMillis(100));
    shard.tell(new GetWeightsParts(parts.getRef(), List.of(1)));
    parts.receiveMessage();
    WeightsPart secondSlice = parts.receiveMessage();
    assertEquals(4, secondSlice.totalLength(), "the weights, then the state of the slice asked for alone");
    assertArrayEquals(new float[] {3, 20}, secondSlice.part());
    parts.expectNoMessage(Duration.ofMillis(100));

    shard.tell(new StoreWeights(3, new float[] {4, 5}));
    WeightsSnapshot weightsOnly = weights(shard);
    assertArrayEquals(new float[] {4, 5}, weightsOnly.weights());
    assertEquals(0, weightsOnly.optimizer().length, "a version without optimizer state drops the older one");

    shard.tell(new StoreWeights(4, new float[] {1, 2}, 3, 0, new int[0]));
    assertEquals(3, weights(shard).version(), "more weights than floats is refused");
    shard.tell(new StoreWeights(4, new float[] {1, 2, 3}, 1, 0, new int[] {1}));
    assertEquals(3, weights(shard).version(), "slices' state that does not add up to the floats is refused");
  }

  @Test
  void stateStoredWholeOnItsNodeIsServedLikeStateInParts() {
    ActorRef<Command> shard = node.spawn(LayerShard.create("g5"));
    shard.tell(new LayerShard.StoreState(3, new float[] {1, 2, 3}, List.of(new float[] {10}, new float[] {20, 30}), 5));
    TestProbe<WeightsPart> parts = node.createTestProbe();
    shard.tell(new GetWeightsParts(parts.getRef(), List.of(1)));
    assertArrayEquals(new float[] {1, 2}, parts.receiveMessage().part());
    assertArrayEquals(new float[] {3, 20}, parts.receiveMessage().part());
    WeightsPart last = parts.receiveMessage();
    assertEquals(5, last.totalLength(), "the weights, then the second slice's state");
    assertEquals(3, last.weightsLength());
    assertArrayEquals(new float[] {30}, last.part());
    WeightsSnapshot whole = weights(shard);
    assertArrayEquals(new float[] {10, 20, 30}, whole.optimizer());
    assertEquals(5, whole.optimizerUpdates());
  }

  @Test
  void aVersionWithAPartThatDoesNotFitIsAbandoned() {
    ActorRef<Command> shard = node.spawn(LayerShard.create("g2"));
    shard.tell(new StoreWeights(1, new float[] {7, 7, 7}));
    shard.tell(new StoreWeightsPart(2, 0, 3, new float[] {1, 2}));
    shard.tell(new StoreWeightsPart(2, 2, 4, new float[] {3}));
    shard.tell(new StoreWeightsPart(2, 2, 3, new float[] {3}));
    WeightsSnapshot kept = weights(shard);
    assertEquals(1, kept.version());
    assertArrayEquals(new float[] {7, 7, 7}, kept.weights());

    shard.tell(new StoreWeightsPart(3, 0, 2, new float[] {8, 8}));
    assertEquals(3, weights(shard).version(), "a newer version starts afresh");
  }

  @Test
  void weightsAreServedInPartsOfTheConfiguredSize() {
    ActorRef<Command> shard = node.spawn(LayerShard.create("g3"));
    TestProbe<WeightsPart> parts = node.createTestProbe();
    shard.tell(new GetWeightsParts(parts.getRef()));
    WeightsPart none = parts.receiveMessage();
    assertEquals(LayerShard.NO_VERSION, none.version());
    assertEquals(0, none.totalLength());

    shard.tell(new StoreWeights(6, new float[] {1, 2, 3, 4, 5}));
    shard.tell(new GetWeightsParts(parts.getRef()));
    assertArrayEquals(new float[] {1, 2}, parts.receiveMessage().part());
    assertArrayEquals(new float[] {3, 4}, parts.receiveMessage().part());
    WeightsPart last = parts.receiveMessage();
    assertEquals(4, last.offset());
    assertEquals(5, last.totalLength());
    assertArrayEquals(new float[] {5}, last.part());
    parts.expectNoMessage(Duration.ofMillis(100));
  }

  private WeightsSnapshot weights(ActorRef<Command> shard) {
    TestProbe<WeightsSnapshot> probe = node.createTestProbe();
    shard.tell(new GetWeights(probe.getRef()));
    return probe.receiveMessage();
  }
}
