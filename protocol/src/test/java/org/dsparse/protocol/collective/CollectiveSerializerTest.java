package org.dsparse.protocol.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializationExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CollectiveSerializerTest {
  private ActorTestKit testKit;
  private CollectiveSerializer serializer;
  private ActorRef<PeerMessage> peer;

  @BeforeAll
  void startSystem() throws Exception {
    testKit = ActorTestKit.create("serializer-test");
    serializer = (CollectiveSerializer) SerializationExtension.get(Adapter.toClassic(testKit.system()))
        .serializerFor(Chunk.class);
    peer = testKit.<PeerMessage>createTestProbe().ref();
  }

  @AfterAll
  void stopSystem() {
    testKit.shutdownTestKit();
  }

  @Test
  void everyPeerMessageIsBoundToTheCollectiveSerializer() {
    var serialization = SerializationExtension.get(Adapter.toClassic(testKit.system()));
    for (PeerMessage message : controlMessages()) {
      assertInstanceOf(CollectiveSerializer.class, serialization.findSerializerFor(message));
    }
  }

  @ParameterizedTest(name = "{0} floats")
  @ValueSource(ints = {0, 1, 7, 65_537})
  void chunksRoundTripBitForBitThroughArteryStyleBuffersAndByteArrays(int length) {
    Random random = new Random(length);
    float[] data = new float[length + 3];
    for (int i = 0; i < data.length; i++) {
      data[i] = Float.intBitsToFloat(random.nextInt());
    }
    data[0] = Float.NaN;
    Chunk chunk = new Chunk("layer-3", 42L, 5, 11, peer, new FloatSlice(data, 2, length));

    ByteBuffer direct = ByteBuffer.allocateDirect(serializer.chunkSize(chunk) + 16).order(ByteOrder.BIG_ENDIAN);
    serializer.toBinary(chunk, direct);
    assertEquals(serializer.chunkSize(chunk), direct.position());
    assertEquals(ByteOrder.BIG_ENDIAN, direct.order(), "caller's byte order restored");
    direct.flip();
    Chunk viaBuffer = (Chunk) serializer.fromBinary(direct, serializer.manifest(chunk));
    Chunk viaBytes = (Chunk) serializer.fromBinary(serializer.toBinary(chunk), serializer.manifest(chunk));

    for (Chunk decoded : List.of(viaBuffer, viaBytes)) {
      assertEquals(chunk, decoded);
      assertEquals(peer, decoded.from());
      assertTrue(Arrays.equals(floatBits(data, 2, length), floatBits(decoded.payload().array(), 0, length)));
    }
  }

  @Test
  void payloadIsRawLittleEndianFloatsAfterTheHeader() {
    Chunk chunk = new Chunk("g", 1L, 0, 0, peer, FloatSlice.of(new float[] {1.5f, -2f}));
    byte[] bytes = serializer.toBinary(chunk);
    ByteBuffer tail = ByteBuffer.wrap(bytes, bytes.length - 8, 8).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(1.5f, tail.getFloat());
    assertEquals(-2f, tail.getFloat());
  }

  @Test
  void controlMessagesRoundTripThroughBothPaths() {
    for (PeerMessage message : controlMessages()) {
      String manifest = serializer.manifest(message);
      assertEquals(message, serializer.fromBinary(serializer.toBinary(message), manifest));
      ByteBuffer buffer = ByteBuffer.allocateDirect(1024);
      serializer.toBinary(message, buffer);
      buffer.flip();
      assertEquals(message, serializer.fromBinary(buffer, manifest));
    }
  }

  @Test
  void malformedInputIsRefusedWithAnErrorNamingTheProblem() {
    Chunk chunk = new Chunk("g", 1L, 0, 0, peer, FloatSlice.of(new float[] {1f, 2f, 3f}));
    byte[] bytes = serializer.toBinary(chunk);
    byte[] truncated = Arrays.copyOf(bytes, bytes.length - 5);
    var error = assertThrows(IllegalArgumentException.class, () -> serializer.fromBinary(truncated, "C"));
    assertTrue(error.getMessage().contains("claims 3 floats"), error.getMessage());

    byte[] headerOnly = Arrays.copyOf(bytes, 6);
    assertThrows(IllegalArgumentException.class, () -> serializer.fromBinary(headerOnly, "C"));

    var unknown = assertThrows(IllegalArgumentException.class, () -> serializer.fromBinary(bytes, "Z"));
    assertTrue(unknown.getMessage().contains("[Z]"), unknown.getMessage());

    byte[] control = serializer.toBinary(controlMessages().get(0));
    assertThrows(IllegalArgumentException.class,
        () -> serializer.fromBinary(Arrays.copyOf(control, control.length - 2), "K"));
    assertThrows(IllegalArgumentException.class,
        () -> serializer.fromBinary(Arrays.copyOf(control, control.length + 3), "K"));
  }

  @Test
  void refusesMessagesItDoesNotOwn() {
    assertThrows(IllegalArgumentException.class, () -> serializer.manifest("not a peer message"));
  }

  private List<PeerMessage> controlMessages() {
    return List.of(
        new ChunksConsumed("layer-3", 7L, peer, 4),
        new CollectiveStarted("layer-3", 7L, peer, CollectiveKind.ALL_REDUCE_MEAN, 3_500_000, -1),
        new CollectiveStarted("", 0L, peer, CollectiveKind.BROADCAST, 0, 2),
        new CollectiveAborted("layer-3", 7L, peer, "pekko://dsparse@127.0.0.1:25520", "left the cluster"),
        new DataLinkOffered("layer-3", 2L, peer, "127.0.0.1", 40123, -8_123_456_789L));
  }

  private static int[] floatBits(float[] values, int offset, int length) {
    int[] bits = new int[length];
    for (int i = 0; i < length; i++) {
      bits[i] = Float.floatToRawIntBits(values[offset + i]);
    }
    return bits;
  }
}
