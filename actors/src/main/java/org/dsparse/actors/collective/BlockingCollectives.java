package org.dsparse.actors.collective;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.dsparse.core.collective.ReduceOp;

/**
 * Blocking entry for threads outside the actor system (the trainer): ask the group actor and wait
 * for the outcome. {@code timeout} should exceed the configured deadline so that the group's own
 * error, which names the missing member, arrives first.
 */
public final class BlockingCollectives {
  private BlockingCollectives() {}

  /** AllReduce {@code buffer} in place and return it. */
  public static float[] allReduce(ActorSystem<?> system, ActorRef<ProcessGroup.Command> group, long sequence,
      float[] buffer, ReduceOp op, Duration timeout) throws CollectiveFailedException, InterruptedException {
    return allReduceCompleted(system, group, sequence, buffer, op, timeout).result();
  }

  /** {@link #allReduce}, answering with what the collective cost (time, data thread CPU). */
  public static ProcessGroup.Completed allReduceCompleted(ActorSystem<?> system, ActorRef<ProcessGroup.Command> group,
      long sequence, float[] buffer, ReduceOp op, Duration timeout)
      throws CollectiveFailedException, InterruptedException {
    return await(AskPattern.ask(group, replyTo -> new ProcessGroup.AllReduce(sequence, buffer, op, replyTo), timeout,
        system.scheduler()), sequence, timeout);
  }

  /** Broadcast from {@code ownerRank}: the owner passes its data, the others a buffer of the same length. */
  public static float[] broadcast(ActorSystem<?> system, ActorRef<ProcessGroup.Command> group, long sequence,
      int ownerRank, float[] buffer, Duration timeout) throws CollectiveFailedException, InterruptedException {
    return broadcastCompleted(system, group, sequence, ownerRank, buffer, timeout).result();
  }

  /** {@link #broadcast}, answering with what the collective cost (time, data thread CPU). */
  public static ProcessGroup.Completed broadcastCompleted(ActorSystem<?> system, ActorRef<ProcessGroup.Command> group,
      long sequence, int ownerRank, float[] buffer, Duration timeout)
      throws CollectiveFailedException, InterruptedException {
    return await(AskPattern.ask(group, replyTo -> new ProcessGroup.Broadcast(sequence, ownerRank, buffer, replyTo),
        timeout, system.scheduler()), sequence, timeout);
  }

  private static ProcessGroup.Completed await(CompletionStage<ProcessGroup.CollectiveOutcome> reply, long sequence,
      Duration timeout) throws CollectiveFailedException, InterruptedException {
    ProcessGroup.CollectiveOutcome outcome;
    try {
      outcome = reply.toCompletableFuture().get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new CollectiveFailedException("collective " + sequence + " got no answer from its group actor within "
          + timeout, null, e);
    }
    if (outcome instanceof ProcessGroup.Failed failed) {
      throw new CollectiveFailedException("collective " + sequence + " of group " + failed.groupId() + " failed: "
          + failed.reason(), failed.missingMember().orElse(null), null);
    }
    return (ProcessGroup.Completed) outcome;
  }
}
