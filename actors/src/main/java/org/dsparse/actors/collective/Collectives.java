package org.dsparse.actors.collective;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.dsparse.core.collective.ReduceOp;

/**
 * The collectives a step runs, each in one process group named by its id. Every call completes:
 * with the result, or with a {@link Failure} naming the group and the member it blames.
 */
public interface Collectives {
  /**
   * The mean of every member's {@code payload}, computed in place (the result is that array); a
   * group's collectives take strictly increasing {@code sequence} numbers, the same on every member.
   * {@code partLengths}: the payload's parts, one per member in rank order, whose elements the ring
   * averages in the same order whatever else the payload holds (see {@link ProcessGroup.AllReduce}).
   */
  CompletionStage<Transfer> allReduce(String group, long sequence, float[] payload, int[] partLengths);

  /** The element-wise sum of every member's {@code payload}, in place (a tile group's partial gradients). */
  CompletionStage<Transfer> sum(String group, long sequence, float[] payload);

  /**
   * Every member's part to every member, in place: {@code buffer} holds one part per member in rank
   * order, of equal length, and this member has filled its own.
   */
  CompletionStage<Transfer> allGather(String group, long sequence, float[] buffer);

  /**
   * The weights of the group's first member, its leader, on every member: the leader passes them,
   * the others {@code null} and receive {@code length} floats.
   */
  CompletionStage<Transfer> broadcast(String group, long sequence, float[] weights, int length);

  /**
   * The data of the group's member of rank {@code owner} on every member: the owner passes it, the
   * others {@code null} and receive {@code length} floats.
   */
  default CompletionStage<Transfer> broadcast(String group, long sequence, int owner, float[] data, int length) {
    if (owner != 0) {
      throw new UnsupportedOperationException("these collectives broadcast from a group's leader only");
    }
    return broadcast(group, sequence, data, length);
  }

  /**
   * A finished collective.
   *
   * @param transferNanos its own time, from the moment every member had started it to its end
   */
  record Transfer(float[] result, long transferNanos) {}

  /** A collective that did not finish. */
  final class Failure extends RuntimeException {
    public Failure(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Collectives run by this device's {@link ProcessGroup} actors, by group id. A group that does
   * not answer within {@code answerWithin} (its own deadlines fail it first) fails the call.
   */
  static Collectives of(Map<String, ActorRef<ProcessGroup.Command>> groups, Duration answerWithin,
      Scheduler scheduler) {
    return new Collectives() {
      @Override
      public CompletionStage<Transfer> allReduce(String group, long sequence, float[] payload, int[] partLengths) {
        return ask(group, replyTo -> new ProcessGroup.AllReduce(sequence, payload, partLengths, ReduceOp.MEAN,
            replyTo));
      }

      @Override
      public CompletionStage<Transfer> sum(String group, long sequence, float[] payload) {
        return ask(group, replyTo -> new ProcessGroup.AllReduce(sequence, payload, ReduceOp.SUM, replyTo));
      }

      @Override
      public CompletionStage<Transfer> allGather(String group, long sequence, float[] buffer) {
        return ask(group, replyTo -> new ProcessGroup.AllGather(sequence, buffer, replyTo));
      }

      @Override
      public CompletionStage<Transfer> broadcast(String group, long sequence, float[] weights, int length) {
        return broadcast(group, sequence, 0, weights, length);
      }

      @Override
      public CompletionStage<Transfer> broadcast(String group, long sequence, int owner, float[] data, int length) {
        return ask(group, replyTo -> data != null
            ? new ProcessGroup.Broadcast(sequence, owner, data, replyTo)
            : ProcessGroup.Broadcast.receive(sequence, owner, length, replyTo));
      }

      private CompletionStage<Transfer> ask(String group,
          org.apache.pekko.japi.function.Function<ActorRef<ProcessGroup.CollectiveOutcome>, ProcessGroup.Command> request) {
        ActorRef<ProcessGroup.Command> actor = groups.get(group);
        if (actor == null) {
          return CompletableFuture.failedFuture(new Failure("no process group " + group + " on this device"));
        }
        return AskPattern.ask(actor, request, answerWithin, scheduler)
            .handle((outcome, error) -> {
              if (error != null) {
                throw new Failure("group " + group + " did not answer within " + answerWithin.toSeconds() + " s");
              }
              if (outcome instanceof ProcessGroup.Failed failed) {
                throw new Failure("collective of group " + group + " failed"
                    + failed.missingMember().map(m -> " (missing member " + m + ")").orElse("") + ": "
                    + failed.reason());
              }
              ProcessGroup.Completed completed = (ProcessGroup.Completed) outcome;
              return new Transfer(completed.result(), completed.transferNanos());
            });
      }
    };
  }
}
