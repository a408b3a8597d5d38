package org.dsparse.actors.shard;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.dsparse.actors.shard.LayerShard.GetWeightsParts;
import org.dsparse.actors.shard.LayerShard.WeightsPart;
import org.dsparse.actors.shard.LayerShard.WeightsSnapshot;

/**
 * Asks a group's shard for its weights in parts and completes {@code result} with the assembled
 * snapshot, or with an error naming the group if the parts disagree or do not all arrive in time.
 */
final class WeightsAssembler extends AbstractBehavior<WeightsAssembler.Command> {
  sealed interface Command {}

  private record PartReceived(WeightsPart part) implements Command {}

  private enum DeadlineMissed implements Command { INSTANCE }

  private final String groupId;
  private final Duration timeout;
  private final CompletableFuture<WeightsSnapshot> result;
  private long version = LayerShard.NO_VERSION;
  private float[] weights;
  private int received;

  static Behavior<Command> create(String groupId, java.util.List<Integer> optimizerSlices, Duration timeout,
      CompletableFuture<WeightsSnapshot> result) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
      timers.startSingleTimer(DeadlineMissed.INSTANCE, timeout);
      LayerShard.shardOf(context.getSystem(), groupId)
          .tell(new GetWeightsParts(context.messageAdapter(WeightsPart.class, PartReceived::new), optimizerSlices));
      return new WeightsAssembler(context, groupId, timeout, result);
    }));
  }

  private WeightsAssembler(ActorContext<Command> context, String groupId, Duration timeout,
      CompletableFuture<WeightsSnapshot> result) {
    super(context);
    this.groupId = groupId;
    this.timeout = timeout;
    this.result = result;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(PartReceived.class, this::onPartReceived)
        .onMessageEquals(DeadlineMissed.INSTANCE, this::onDeadlineMissed)
        .build();
  }

  private Behavior<Command> onPartReceived(PartReceived received) {
    WeightsPart part = received.part();
    if (weights == null) {
      version = part.version();
      weights = new float[Math.max(0, part.totalLength())];
    }
    if (part.version() != version || part.totalLength() != weights.length || part.offset() < 0
        || part.offset() > weights.length - part.part().length || part.weightsLength() < 0
        || part.weightsLength() > weights.length) {
      result.completeExceptionally(new IllegalStateException("group " + groupId + ": inconsistent weights part "
          + "(version " + part.version() + ", offset " + part.offset() + ", total " + part.totalLength()
          + ") after version " + version + " of " + weights.length + " floats"));
      return Behaviors.stopped();
    }
    System.arraycopy(part.part(), 0, weights, part.offset(), part.part().length);
    this.received += part.part().length;
    if (this.received == weights.length) {
      result.complete(WeightsSnapshot.of(groupId, version, weights, part.weightsLength(), part.optimizerUpdates()));
      return Behaviors.stopped();
    }
    return this;
  }

  private Behavior<Command> onDeadlineMissed() {
    result.completeExceptionally(new TimeoutException("weights of group " + groupId + " not received within "
        + timeout + " (" + received + " of " + (weights == null ? "?" : weights.length) + " floats)"));
    return Behaviors.stopped();
  }
}
