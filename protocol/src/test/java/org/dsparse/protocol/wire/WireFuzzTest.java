package org.dsparse.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.esotericsoftware.kryo.io.Output;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.ChunksConsumed;
import org.dsparse.protocol.collective.CollectiveAborted;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.CollectiveSerializer;
import org.dsparse.protocol.collective.CollectiveStarted;
import org.dsparse.protocol.collective.DataLinkOffered;
import org.dsparse.protocol.collective.FloatSlice;
import org.dsparse.protocol.collective.PeerMessage;
import org.dsparse.protocol.control.ControlMessage;
import org.dsparse.protocol.control.ControlSerializer;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Hostile bytes at both serializers: random frames and mutations of real ones (bits flipped, cut
 * short, extended, lengths overwritten with huge values). Each frame either decodes or is refused
 * with an IllegalArgumentException, which Artery logs with the sender and drops; nothing else may
 * escape (no OutOfMemoryError, no other exception type that would stop an actor). Frames that
 * announce more elements than they carry are refused before anything that size is allocated.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WireFuzzTest {
  private static final int MUTATIONS_PER_MESSAGE = 10_000;

  private ActorTestKit testKit;
  private ControlSerializer control;
  private CollectiveSerializer collective;
  private ActorRef<PeerMessage> peer;

  /** A control message carrying every kind of field a frame can announce a length for. */
  record Everything(String name, float[] floats, long[] longs, int[] ints, double[] doubles, byte[] bytes,
      List<String> strings, Map<String, Long> counts) implements ControlMessage {}

  record Floats(float[] values) implements ControlMessage {}

  @BeforeAll
  void start() {
    testKit = ActorTestKit.create("fuzz");
    ExtendedActorSystem system = (ExtendedActorSystem) Adapter.toClassic(testKit.system());
    control = new ControlSerializer(system);
    collective = new CollectiveSerializer(system);
    peer = testKit.<PeerMessage>createTestProbe().ref();
  }

  @AfterAll
  void stop() {
    testKit.shutdownTestKit();
  }

  private List<Object> samples() {
    StepMetrics metrics = new StepMetrics(0.5f, 10, 2, 1, 3, 4096, 512,
        List.of(new WireBytes("g1", WireBytes.ALL_REDUCE, 4096, 4096)), 7, 9,
        new StepMetrics.Segments(List.of(3, 5), new double[] {1, 2, 3}, new long[] {1, 2, 3}, new double[] {4, 5, 6}),
        List.of(new StepMetrics.GroupTime("g1", WireBytes.ALL_REDUCE, 2.0)));
    return List.of(
        new Everything("x", new float[] {1, 2}, new long[] {3}, new int[] {4, 5, 6}, new double[] {7}, new byte[] {8},
            List.of("a", "bé"), Map.of("k", 9L)),
        new DeviceEvent.StepCompleted("pi4", 12, metrics),
        new DeviceEvent.StatePart("pi4", 3, 0, 4, 4, List.of(new GroupPlan.Slice(1, 0, 8)), new int[] {2}, 1,
            new float[] {1, 2, 3, 4}),
        new GroupPlan("g0", List.of(GroupPlan.Slice.whole(0, 4)), List.of("a", "b"), "a", 512, "j.g0"),
        new Chunk("layer-3", 42L, 5, 11, peer, FloatSlice.of(new float[] {1, 2, 3, 4, 5})),
        new ChunksConsumed("layer-3", 7L, peer, 4),
        new CollectiveStarted("layer-3", 7L, peer, CollectiveKind.ALL_REDUCE_MEAN, 3_500_000, -1),
        new CollectiveAborted("layer-3", 7L, peer, "pekko://dsparse@127.0.0.1:25520", "left the cluster"),
        new DataLinkOffered("layer-3", 2L, peer, "127.0.0.1", 40123, -8_123_456_789L));
  }

  private SerializerWithStringManifest serializerFor(Object message) {
    return message instanceof PeerMessage ? collective : control;
  }

  @Test
  void randomAndMutatedFramesDecodeOrAreRefusedAndNothingElseEscapes() {
    Random random = new Random(20261202);
    Map<String, Integer> outcomes = new TreeMap<>();
    int frames = 0;
    for (Object sample : samples()) {
      SerializerWithStringManifest serializer = serializerFor(sample);
      String manifest = serializer.manifest(sample);
      byte[] valid = serializer.toBinary(sample);
      for (int i = 0; i < MUTATIONS_PER_MESSAGE; i++) {
        frames++;
        outcomes.merge(decodeOrRefuse(serializer, mutate(valid, random), manifest), 1, Integer::sum);
      }
    }
    // Garbage under every manifest either serializer knows, and under names it does not.
    List<String> manifests = new ArrayList<>(List.of("C", "K", "S", "A", "L", "X", "java.lang.Runtime", ""));
    samples().forEach(s -> manifests.add(serializerFor(s).manifest(s)));
    for (String manifest : manifests) {
      for (SerializerWithStringManifest serializer : List.of(control, collective)) {
        for (int i = 0; i < 300; i++) {
          byte[] frame = new byte[random.nextInt(64)];
          random.nextBytes(frame);
          frames++;
          outcomes.merge(decodeOrRefuse(serializer, frame, manifest), 1, Integer::sum);
        }
      }
    }
    Map<String, Long> counted = WireTraffic.get(testKit.system()).refusals();
    System.out.println("wire fuzz: " + frames + " frames, " + outcomes + ", 0 escaped; refusals counted " + counted);
    assertTrue(outcomes.getOrDefault("refused", 0) > frames / 2, outcomes.toString());
    assertTrue(counted.values().stream().mapToLong(Long::longValue).sum() >= outcomes.get("refused"),
        "every refusal counted by reason: " + counted + " for " + outcomes);
    assertTrue(counted.containsKey("length-beyond-frame") && counted.containsKey("malformed")
        && counted.containsKey("unknown-type"), counted.toString());
  }

  @Test
  void aFrameAnnouncingAHugeArrayIsRefusedBeforeAllocatingIt() {
    // A Floats record is its array: a length (plus one) as a varint, then the floats. This one claims
    // 500 million floats (2 GB) and carries one.
    try (Output output = new Output(16)) {
      output.writeVarInt(500_000_001, true);
      output.writeFloat(1f);
      byte[] frame = output.toBytes();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> control.fromBinary(frame, Floats.class.getName()));
      assertTrue(e.getMessage().contains("500000000"), e.getMessage());
    }
  }

  /** "decoded" or "refused"; anything else escaping the serializer fails the test, naming the frame. */
  private static String decodeOrRefuse(SerializerWithStringManifest serializer, byte[] frame, String manifest) {
    try {
      serializer.fromBinary(frame, manifest);
      return "decoded";
    } catch (IllegalArgumentException e) {
      return "refused";
    } catch (Throwable t) {
      return fail(manifest + ": " + t + " escaped for frame " + HexFormat.of().formatHex(frame), t);
    }
  }

  private static byte[] mutate(byte[] valid, Random random) {
    byte[] frame = valid.clone();
    switch (random.nextInt(6)) {
      case 0 -> {
        for (int flips = 1 + random.nextInt(4); flips > 0 && frame.length > 0; flips--) {
          frame[random.nextInt(frame.length)] ^= (byte) (1 << random.nextInt(8));
        }
      }
      case 1 -> frame = java.util.Arrays.copyOf(frame, random.nextInt(Math.max(1, frame.length)));
      case 2 -> {
        byte[] longer = java.util.Arrays.copyOf(frame, frame.length + 1 + random.nextInt(32));
        for (int i = frame.length; i < longer.length; i++) {
          longer[i] = (byte) random.nextInt();
        }
        frame = longer;
      }
      case 3 -> {
        // A length field overwritten with the largest varint or int there is.
        if (frame.length >= 5) {
          int at = random.nextInt(frame.length - 4);
          byte[] huge = random.nextBoolean() ? new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07}
              : new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 0};
          System.arraycopy(huge, 0, frame, at, 5);
        }
      }
      case 4 -> {
        if (frame.length > 0) {
          frame[random.nextInt(frame.length)] = (byte) random.nextInt();
        }
      }
      default -> random.nextBytes(frame);
    }
    return frame;
  }
}
