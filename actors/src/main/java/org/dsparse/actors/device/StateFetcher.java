package org.dsparse.actors.device;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dsparse.actors.step.CommittedState;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;

/**
 * Fetches a job's state as it stood after a given step (the model, and the optimizer state of the
 * slices the source updated) from another device, in
 * {@link DeviceEvent.StatePart}s, and completes {@code result} with it. The source may still be
 * taking that state (it is re-planned at the same moment): its refusal is retried every
 * {@link #RETRY_EVERY} until the deadline, which fails {@code result} naming the source.
 */
final class StateFetcher {
  static final Duration RETRY_EVERY = Duration.ofMillis(250);

  sealed interface Command {}

  private record Received(DeviceEvent event) implements Command {}

  private enum Retry implements Command { INSTANCE }

  private enum DeadlineMissed implements Command { INSTANCE }

  private StateFetcher() {}

  static Behavior<Command> create(DeviceCommand.Restore restore, String jobId, Duration timeout,
      CompletableFuture<CommittedState> result) {
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
      timers.startSingleTimer(DeadlineMissed.INSTANCE, timeout);
      ask(context, restore, jobId);
      return fetching(context, timers, restore, jobId, timeout, result, new Assembly());
    }));
  }

  private static void ask(ActorContext<Command> context, DeviceCommand.Restore restore, String jobId) {
    restore.sourceDevice().tell(new DeviceCommand.FetchState(jobId, restore.step(),
        context.messageAdapter(DeviceEvent.class, Received::new)));
  }

  /** The floats received so far, and the first part (for the layout). */
  private static final class Assembly {
    DeviceEvent.StatePart layout;
    float[] floats;
    int received;
    String refusal = "";
  }

  private static Behavior<Command> fetching(ActorContext<Command> context, TimerScheduler<Command> timers,
      DeviceCommand.Restore restore, String jobId, Duration timeout, CompletableFuture<CommittedState> result,
      Assembly assembly) {
    String source = "device " + restore.source();
    return Behaviors.receive(Command.class)
        .onMessage(Received.class, received -> {
          if (received.event() instanceof DeviceEvent.Failed refused) {
            assembly.refusal = refused.reason();
            assembly.floats = null;
            assembly.received = 0;
            timers.startSingleTimer(Retry.INSTANCE, RETRY_EVERY);
            return Behaviors.same();
          }
          if (!(received.event() instanceof DeviceEvent.StatePart part) || part.step() != restore.step()) {
            return Behaviors.same();
          }
          if (assembly.floats == null) {
            assembly.layout = part;
            assembly.floats = new float[Math.max(0, part.totalLength())];
          }
          float[] floats = assembly.floats;
          if (part.part() == null || part.totalLength() != floats.length || part.offset() < 0
              || part.offset() > floats.length - part.part().length) {
            result.completeExceptionally(new IllegalStateException(source + " sent an inconsistent part of the model "
                + "(offset " + part.offset() + ", total " + part.totalLength() + ", expected " + floats.length + ")"));
            return Behaviors.stopped();
          }
          System.arraycopy(part.part(), 0, floats, part.offset(), part.part().length);
          assembly.received += part.part().length;
          if (assembly.received == floats.length) {
            try {
              result.complete(CommittedState.fetched(jobId, restore, assembly.layout, floats));
            } catch (RuntimeException e) {
              result.completeExceptionally(new IllegalStateException(source + " sent a state whose layout does not "
                  + "add up: " + e.getMessage()));
            }
            return Behaviors.stopped();
          }
          return Behaviors.same();
        })
        .onMessageEquals(Retry.INSTANCE, () -> {
          ask(context, restore, jobId);
          return Behaviors.same();
        })
        .onMessageEquals(DeadlineMissed.INSTANCE, () -> {
          result.completeExceptionally(new TimeoutException("the model after step " + restore.step() + " did not come"
              + " from " + source + " within " + timeout + (assembly.refusal.isEmpty() ? "" : ": " + assembly.refusal)));
          return Behaviors.stopped();
        })
        .build();
  }
}
