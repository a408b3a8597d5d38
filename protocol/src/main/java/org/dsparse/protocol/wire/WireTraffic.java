package org.dsparse.protocol.wire;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;

/**
 * Bytes this actor system put on and took off the network, counted where they are encoded: by the
 * serializers for cluster messages, by the collectives' TCP data path for its frames. Keyed by
 * channel: a process group's id for its collective payload (TCP frames, or chunk messages over
 * Artery), {@link #CONTROL} for every other dsparse message (collective start, credits and aborts,
 * link offers, job commands and reports), {@link #SHARD} for layer-shard weight stores and fetches.
 *
 * <p>What it does not see: Pekko's own cluster traffic (gossip, heartbeats) and TCP/IP headers.
 * Where that matters, the link's own counters tell (the simulator's shaped links report them).
 * One instance per actor system, so devices sharing a JVM count apart.
 */
public final class WireTraffic implements Extension {
  /** Channel of dsparse control messages. */
  public static final String CONTROL = "control";
  /** Channel of layer-shard weights. */
  public static final String SHARD = "shard";

  /** Bytes sent and received on one channel. */
  public record Bytes(long sent, long received) {
    public static final Bytes ZERO = new Bytes(0, 0);

    public Bytes minus(Bytes earlier) {
      return new Bytes(sent - earlier.sent, received - earlier.received);
    }

    public Bytes plus(Bytes other) {
      return new Bytes(sent + other.sent, received + other.received);
    }

    public long total() {
      return sent + received;
    }
  }

  private static final class Counter {
    final LongAdder sent = new LongAdder();
    final LongAdder received = new LongAdder();
  }

  private final ConcurrentHashMap<String, Counter> channels = new ConcurrentHashMap<>();

  private static final Id ID = new Id();

  private static final class Id extends AbstractExtensionId<WireTraffic> {
    @Override
    public WireTraffic createExtension(ExtendedActorSystem system) {
      return new WireTraffic();
    }
  }

  public static WireTraffic get(ActorSystem system) {
    return ID.get(system);
  }

  public static WireTraffic get(org.apache.pekko.actor.typed.ActorSystem<?> system) {
    return ID.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(system));
  }

  public void sent(String channel, long bytes) {
    channels.computeIfAbsent(channel, c -> new Counter()).sent.add(bytes);
  }

  public void received(String channel, long bytes) {
    channels.computeIfAbsent(channel, c -> new Counter()).received.add(bytes);
  }

  /** Frames refused on arrival, by reason (see {@link #refused}). */
  private final Map<String, java.util.concurrent.atomic.LongAdder> refusals = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * A frame that arrived was refused: {@code reason} is one of a few fixed words ({@code unknown-type},
   * {@code class-not-allowed}, {@code length-beyond-frame}, {@code malformed}), so that the counts stay
   * few however hostile the input.
   */
  public void refused(String reason) {
    refusals.computeIfAbsent(reason, r -> new java.util.concurrent.atomic.LongAdder()).increment();
  }

  /** The reason word for a serializer's refusal of a frame. */
  public static String reasonOf(IllegalArgumentException refusal) {
    String message = String.valueOf(refusal.getMessage());
    if (message.contains("unknown") || message.contains("is not a control message")) {
      return "unknown-type";
    }
    if (message.contains("not allowed")) {
      return "class-not-allowed";
    }
    if (message.contains("claims")) {
      return "length-beyond-frame";
    }
    return "malformed";
  }

  /** Frames refused so far, by reason. */
  public Map<String, Long> refusals() {
    Map<String, Long> out = new java.util.TreeMap<>();
    refusals.forEach((reason, count) -> out.put(reason, count.sum()));
    return out;
  }

  /** Every channel's totals so far; subtract two snapshots for what happened between them. */
  public Map<String, Bytes> snapshot() {
    Map<String, Bytes> out = new TreeMap<>();
    channels.forEach((channel, c) -> out.put(channel, new Bytes(c.sent.sum(), c.received.sum())));
    return out;
  }

  /** What {@code later} holds beyond {@code earlier}, channels without traffic left out. */
  public static Map<String, Bytes> between(Map<String, Bytes> earlier, Map<String, Bytes> later) {
    Map<String, Bytes> out = new TreeMap<>();
    later.forEach((channel, bytes) -> {
      Bytes delta = bytes.minus(earlier.getOrDefault(channel, Bytes.ZERO));
      if (delta.total() != 0) {
        out.put(channel, delta);
      }
    });
    return out;
  }
}
