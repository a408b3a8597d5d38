package org.dsparse.protocol.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ControlSerializerTest {
  private final ActorTestKit testKit = ActorTestKit.create();

  record Inner(String name, long bytes) {}

  enum Mode { FULL, DSPARSE }

  record Sample(String id, int step, double loss, Mode mode, List<Inner> inners, Map<String, Long> counts,
      Optional<String> reason, float[] values, ActorRef<String> replyTo) implements ControlMessage {}

  record Evil(Object payload) implements ControlMessage {}

  record Declares(List<Inner> inners) implements ControlMessage {}

  @AfterAll
  void shutdown() {
    testKit.shutdownTestKit();
  }

  private Object roundTrip(Object message) {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(testKit.system()));
    var serializer = serialization.findSerializerFor(message);
    assertTrue(serializer instanceof ControlSerializer, serializer.getClass().getName());
    byte[] bytes = serializer.toBinary(message);
    return serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
  }

  @Test
  void recordsWithCollectionsOptionalsEnumsArraysAndActorRefsRoundTrip() {
    TestProbe<String> probe = testKit.createTestProbe();
    Sample sample = new Sample("job-1", 7, 0.25, Mode.DSPARSE, List.of(new Inner("d0", 5L), new Inner("d1", 6L)),
        Map.of("a", 1L), Optional.of("why"), new float[] {1f, -2.5f}, probe.getRef());
    Sample back = (Sample) roundTrip(sample);
    assertEquals(sample.id(), back.id());
    assertEquals(sample.inners(), back.inners());
    assertEquals(sample.counts(), back.counts());
    assertEquals(sample.reason(), back.reason());
    assertEquals(sample.mode(), back.mode());
    assertEquals(2, back.values().length);
    assertEquals(-2.5f, back.values()[1]);
    back.replyTo().tell("hello");
    probe.expectMessage("hello");
    Sample empty = new Sample("", 0, 0, Mode.FULL, List.of(), Map.of(), Optional.empty(), new float[0], probe.getRef());
    assertEquals(Optional.empty(), ((Sample) roundTrip(empty)).reason());
  }

  @Test
  void classesOutsideTheAllowListAndGarbageAreRefusedWithTheManifestNamed() {
    ControlSerializer serializer = new ControlSerializer(
        (org.apache.pekko.actor.ExtendedActorSystem) Adapter.toClassic(testKit.system()));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> serializer.toBinary(new Evil(new java.net.URI("http://x").toURL().openConnection())));
    assertTrue(e.getMessage().contains("not allowed"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> serializer.fromBinary(new byte[] {1, 2, 3}, Sample.class.getName()));
    assertTrue(e.getMessage().contains(Sample.class.getName()), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> serializer.fromBinary(new byte[0], "java.lang.Runtime"));
    assertTrue(e.getMessage().contains("not a control message"), e.getMessage());
  }

  @Test
  void aFrameNamingAClassItsMessageTypeDoesNotDeclareIsRefusedEvenInsideDsparse() {
    ControlSerializer serializer = new ControlSerializer(
        (org.apache.pekko.actor.ExtendedActorSystem) Adapter.toClassic(testKit.system()));
    // Written by an unrestricted Kryo: Evil's Object field names Inner, a dsparse record Evil does not
    // declare, and a list of Samples travels where Declares has a list of Inner.
    com.esotericsoftware.kryo.Kryo open = new com.esotericsoftware.kryo.Kryo();
    open.setRegistrationRequired(false);
    for (var forged : List.of(Map.entry(new Evil(new Inner("x", 1)), Evil.class),
        Map.entry(new Declares(new java.util.ArrayList<>(List.of(new Inner("x", 1)))), Declares.class))) {
      var output = new com.esotericsoftware.kryo.io.Output(256, -1);
      open.writeObject(output, forged.getKey());
      byte[] bytes = output.toBytes();
      if (forged.getValue() == Declares.class) {
        // Legitimate as written: it decodes.
        assertEquals(forged.getKey(), serializer.fromBinary(bytes, Declares.class.getName()));
        continue;
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> serializer.fromBinary(bytes, forged.getValue().getName()));
      assertTrue(e.getMessage().contains(Inner.class.getName()) && e.getMessage().contains("not allowed"),
          e.getMessage());
    }
    assertEquals(List.of(Object.class), ControlTypes.openTypes(Evil.class));
    assertEquals(List.of(), ControlTypes.openTypes(Sample.class));
    // Declares names ArrayList for its list; a frame naming a JDK class no list field admits is refused.
    var output = new com.esotericsoftware.kryo.io.Output(256, -1);
    open.writeObject(output, new Evil(new StringBuilder("was allowed by package before")));
    byte[] bytes = output.toBytes();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> serializer.fromBinary(bytes, Evil.class.getName()));
    assertTrue(e.getMessage().contains("java.lang.StringBuilder"), e.getMessage());
  }
}
