package org.dsparse.actors.device;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.dsparse.actors.shard.LayerShard;
import org.dsparse.actors.step.CommittedState;
import org.dsparse.actors.step.StageFailure;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;

/**
 * Fetches a job's state as it stood after a given step for a device that does not hold it, and
 * completes {@code result} with it.
 *
 * <p>First from the restore's layer shards, when it names them: every group's shard at once, each
 * from its own home, so that no one device's link carries the whole model, and each group's
 * optimizer state where its home updates it. A shard that is behind (its home stores the step as
 * it prepares, when it held it live) is asked again every {@link #RETRY_EVERY} until
 * {@code shardTimeout}; then, or when a shard is past the step, the fetch goes to the source device.
 *
 * <p>From the restore's source device: the model, and the optimizer state of the slices the source
 * updated, in {@link DeviceEvent.StatePart}s. The source may still be taking that state (it is
 * re-planned at the same moment): its refusal is retried every {@link #RETRY_EVERY} until the
 * deadline, which fails {@code result} naming the source.
 */
final class StateFetcher {
  static final Duration RETRY_EVERY = Duration.ofMillis(250);

  /** The state, and how it came. */
  record Fetched(CommittedState state, DeviceEvent.StateTaken taken) {}

  sealed interface Command {}

  private record Received(DeviceEvent event) implements Command {}

  private record ShardsRead(List<LayerShard.WeightsSnapshot> snapshots, Throwable error) implements Command {}

  private enum Retry implements Command { INSTANCE }

  private enum DeadlineMissed implements Command { INSTANCE }

  private StateFetcher() {}

  /**
   * @param wanted the slices whose optimizer state the device keeps (it updates them and the restore
   *     keeps their state): no other optimizer state is fetched
   */
  static Behavior<Command> create(DeviceCommand.Restore restore, String jobId, List<GroupPlan.Slice> wanted,
      Duration shardTimeout, Duration timeout, CompletableFuture<Fetched> result) {
    Request request = new Request(restore, jobId, List.copyOf(wanted));
    return Behaviors.setup(context -> Behaviors.withTimers(timers -> restore.shards().isEmpty()
        ? fromSource(context, timers, request, timeout, result, "")
        : fromShards(context, timers, request, shardTimeout, timeout, result)));
  }

  /** What is fetched: the restore's state, with the optimizer state of {@code wanted} slices. */
  private record Request(DeviceCommand.Restore restore, String jobId, List<GroupPlan.Slice> wanted) {
    /** Indices of {@code group}'s slices whose optimizer state the device keeps. */
    List<Integer> optimizerSlicesOf(GroupPlan group) {
      return java.util.stream.IntStream.range(0, group.slices().size())
          .filter(i -> wanted.contains(group.slices().get(i))).boxed().toList();
    }
  }

  private static Behavior<Command> fromShards(ActorContext<Command> context, TimerScheduler<Command> timers,
      Request request, Duration shardTimeout, Duration timeout, CompletableFuture<Fetched> result) {
    DeviceCommand.Restore restore = request.restore();
    String jobId = request.jobId();
    long started = System.nanoTime();
    long deadline = started + shardTimeout.toNanos();
    List<String> homes = restore.shards().stream().map(GroupPlan::shardHome).distinct().sorted().toList();
    context.getLog().info("job {}: fetching the model after step {} from {} layer shards on {}", jobId, restore.step(),
        restore.shards().size(), homes);
    readShards(context, request, deadline);
    return Behaviors.receive(Command.class)
        .onMessage(ShardsRead.class, read -> {
          String missing = read.error() != null ? StageFailure.message(read.error()) : behind(restore, read.snapshots());
          if (missing.isEmpty()) {
            CommittedState state = fromShards(request, read.snapshots());
            long floats = read.snapshots().stream().mapToLong(s -> s.weights().length + s.optimizer().length).sum();
            context.getLog().info("job {}: took the model after step {} from {} layer shards on {} in {} s, {} MB",
                jobId, restore.step(), restore.shards().size(), homes, seconds(started), megabytes(floats));
            result.complete(new Fetched(state, new DeviceEvent.StateTaken("shards", (System.nanoTime() - started) / 1e9,
                floats * 4, "")));
            return Behaviors.stopped();
          }
          // A home stores the step as it takes it, at its own Prepare when it held it live: a shard
          // behind (or still empty) may yet get it. One past it never will.
          boolean behindOnly = read.error() == null && read.snapshots().stream()
              .allMatch(s -> s.version() <= restore.step());
          if (behindOnly && System.nanoTime() + RETRY_EVERY.toNanos() < deadline) {
            timers.startSingleTimer(Retry.INSTANCE, RETRY_EVERY);
            return Behaviors.same();
          }
          context.getLog().warn("job {}: the layer shards do not hold the model after step {} ({}); fetching it from "
              + "device {}", jobId, restore.step(), missing, restore.source());
          return fromSource(context, timers, request, timeout, result, "the shards did not hold it: " + missing);
        })
        .onMessageEquals(Retry.INSTANCE, () -> {
          readShards(context, request, deadline);
          return Behaviors.same();
        })
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /**
   * Every shard of the restore at once, each read within what is left of {@code deadline}, with its
   * optimizer state only where the device keeps some of it.
   */
  private static void readShards(ActorContext<Command> context, Request request, long deadline) {
    Duration left = Duration.ofNanos(Math.max(RETRY_EVERY.toNanos(), deadline - System.nanoTime()));
    List<CompletableFuture<LayerShard.WeightsSnapshot>> reads = request.restore().shards().stream()
        .map(g -> LayerShard.fetchState(context.getSystem(), g.shardId(), request.optimizerSlicesOf(g), left)
            .toCompletableFuture()).toList();
    context.pipeToSelf(CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)),
        (done, error) -> new ShardsRead(error == null ? reads.stream().map(CompletableFuture::join).toList()
            : List.of(), error));
  }

  /** The shards that do not hold the restore's step, described; empty when they all do. */
  private static String behind(DeviceCommand.Restore restore, List<LayerShard.WeightsSnapshot> snapshots) {
    List<String> behind = new ArrayList<>();
    for (int i = 0; i < snapshots.size(); i++) {
      LayerShard.WeightsSnapshot s = snapshots.get(i);
      if (s.version() != restore.step()) {
        behind.add("group " + restore.shards().get(i).groupId() + (s.hasWeights() ? " holds step " + s.version()
            : " holds nothing"));
      }
    }
    return String.join(", ", behind);
  }

  private static CommittedState fromShards(Request request, List<LayerShard.WeightsSnapshot> snapshots) {
    DeviceCommand.Restore restore = request.restore();
    List<CommittedState.GroupState> groups = new ArrayList<>();
    int updates = 0;
    for (int i = 0; i < snapshots.size(); i++) {
      GroupPlan group = restore.shards().get(i);
      LayerShard.WeightsSnapshot s = snapshots.get(i);
      List<GroupPlan.Slice> withState = s.optimizer().length == 0 ? List.of()
          : request.optimizerSlicesOf(group).stream().map(group.slices()::get).toList();
      groups.add(new CommittedState.GroupState(group.groupId(), group.slices(), s.weights(), s.optimizer(),
          withState));
      updates = Math.max(updates, s.optimizer().length > 0 ? s.optimizerUpdates() : 0);
    }
    return CommittedState.fromShards(request.jobId(), restore, groups, updates);
  }

  private static Behavior<Command> fromSource(ActorContext<Command> context, TimerScheduler<Command> timers,
      Request request, Duration timeout, CompletableFuture<Fetched> result, String note) {
    DeviceCommand.Restore restore = request.restore();
    String jobId = request.jobId();
    context.getLog().info("job {}: fetching the model after step {} from device {}", jobId, restore.step(),
        restore.source());
    timers.cancel(Retry.INSTANCE);
    timers.startSingleTimer(DeadlineMissed.INSTANCE, timeout);
    ask(context, request);
    return fetching(context, timers, request, timeout, result, new Assembly(System.nanoTime(), note));
  }

  private static String seconds(long since) {
    return String.format(java.util.Locale.ROOT, "%.2f", (System.nanoTime() - since) / 1e9);
  }

  private static String megabytes(long floats) {
    return String.format(java.util.Locale.ROOT, "%.2f", floats * 4 / 1e6);
  }

  private static void ask(ActorContext<Command> context, Request request) {
    request.restore().sourceDevice().tell(new DeviceCommand.FetchState(request.jobId(), request.restore().step(),
        request.wanted(), context.messageAdapter(DeviceEvent.class, Received::new)));
  }

  /** The floats received so far, and the first part (for the layout). */
  private static final class Assembly {
    final long started;
    final String note;
    DeviceEvent.StatePart layout;
    float[] floats;
    int received;
    String refusal = "";

    Assembly(long started, String note) {
      this.started = started;
      this.note = note;
    }
  }

  private static Behavior<Command> fetching(ActorContext<Command> context, TimerScheduler<Command> timers,
      Request request, Duration timeout, CompletableFuture<Fetched> result, Assembly assembly) {
    DeviceCommand.Restore restore = request.restore();
    String jobId = request.jobId();
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
              result.complete(new Fetched(CommittedState.fetched(jobId, restore, assembly.layout, floats),
                  new DeviceEvent.StateTaken("device " + restore.source(), (System.nanoTime() - assembly.started) / 1e9,
                      floats.length * 4L, assembly.note)));
              context.getLog().info("job {}: took the model after step {} from device {} in {} s, {} MB", jobId,
                  restore.step(), restore.source(), seconds(assembly.started), megabytes(floats.length));
            } catch (RuntimeException e) {
              result.completeExceptionally(new IllegalStateException(source + " sent a state whose layout does not "
                  + "add up: " + e.getMessage()));
            }
            return Behaviors.stopped();
          }
          return Behaviors.same();
        })
        .onMessageEquals(Retry.INSTANCE, () -> {
          ask(context, request);
          return Behaviors.same();
        })
        .onMessage(ShardsRead.class, late -> Behaviors.same())
        .onMessageEquals(DeadlineMissed.INSTANCE, () -> {
          result.completeExceptionally(new TimeoutException("the model after step " + restore.step() + " did not come"
              + " from " + source + " within " + timeout + (assembly.refusal.isEmpty() ? "" : ": " + assembly.refusal)));
          return Behaviors.stopped();
        })
        .build();
  }
}
