package org.dsparse.actors.mode.dataparallel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.actors.plan.Plans;
import org.dsparse.actors.step.DeviceGroups;
import org.dsparse.actors.step.StageRunner;
import org.dsparse.core.compression.RefreshCodec;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.Refresh;
import org.dsparse.protocol.job.WireBytes;
import org.dsparse.training.model.ChannelSlice;
import org.dsparse.training.model.LayeredModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One device's refreshes: each group it leads sends its weights to the devices that do not update
 * it, and each group it does not update arrives from its leader, all groups at once, one Broadcast
 * each. An exact refresh sends the weights as {@link LayeredModel#exportWeights(List)} lays them out.
 * With {@code dsparse.job.refresh-compression}, a compressed refresh sends the change since the
 * receivers' copy ({@link RefreshCodec}): the leader keeps that copy for each group it leads, starting
 * from the weights every device holds as the plan starts, and a receiver applies the payload to its
 * own model's copy, which then equals the leader's bit for bit. Every {@code check-every}-th
 * compressed refresh the members of each refresh group add up their checksum mismatches (an AllReduce
 * of one float), and a group with any is sent its weights exactly in the same step, so that a copy
 * gone astray is put right before the next step reads it.
 *
 * <p>A group's refresh collectives take sequence numbers {@code step * COLLECTIVES_PER_STEP} (the
 * refresh), {@code + 1} (the check) and {@code + 2} (a re-sync), in that order on every member.
 *
 * <p>With {@code refresh-compression.overlap}, a compressed refresh is {@link #launch}ed at the end of
 * its step and {@link #finish}ed in the next one, once that step's backward is done: its transfer
 * runs during the next step's forward and backward, which compute with the copies one refresh behind
 * (one step of staleness). Exact refreshes, which commit, always finish within their step.
 */
final class Refreshes {
  /** Collectives a refresh group may run per step. */
  static final int COLLECTIVES_PER_STEP = 3;
  private static final Logger LOG = LoggerFactory.getLogger(Refreshes.class);

  private final JobSpec spec;
  private final LayeredModel model;
  private final DeviceGroups groups;
  private final Collectives collectives;
  /** Null: every refresh is exact. */
  private final RefreshCodec.Settings settings;
  /** The receivers' copies of the groups this device leads; empty until the plan's first step starts. */
  private final Map<GroupPlan, RefreshCodec> copies = new LinkedHashMap<>();
  private boolean started;
  /** Compressed refreshes since the plan started: the same count on every device, which steps the same. */
  private long compressed;

  Refreshes(JobSpec spec, LayeredModel model, DeviceGroups groups, Collectives collectives) {
    this.spec = spec;
    this.model = model;
    this.groups = groups;
    this.collectives = collectives;
    this.settings = Plans.refreshCompression(spec).orElse(null);
  }

  /**
   * On the model thread, before the plan's first step changes a weight: the led groups' copies are
   * the weights every device holds as the plan starts (its initial weights, or the committed state
   * every device restored). Nothing when refreshes are exact.
   */
  void start() {
    if (started) {
      return;
    }
    started = true;
    if (settings == null) {
      return;
    }
    for (GroupPlan group : led()) {
      copies.put(group, new RefreshCodec(settings, model.exportWeights(slices(group))));
    }
  }

  private List<GroupPlan> led() {
    return groups.led().stream().filter(groups.refresh()::contains).toList();
  }

  /** What one step's refreshes moved and took, for its report. */
  static final class Round {
    long nanos;
    long waitedNanos;
    long bytes;
    /** Each refreshed group's Broadcast time, by group id and kind. */
    final Map<List<String>, Long> groupNanos = new LinkedHashMap<>();
  }

  /** Whether compressed refreshes run during the next step ({@code refresh-compression.overlap}). */
  boolean overlapsNextStep() {
    return settings != null && spec.refreshCompression().overlap();
  }

  /** Step {@code step}'s refresh of kind {@code kind}, whole; model work on {@code stages}. */
  CompletionStage<Void> run(long step, Refresh kind, StageRunner.Step stages, Round round) {
    return launch(step, kind, stages, round).thenCompose(launched -> finish(launched, stages, round));
  }

  /**
   * A refresh under way: the led groups' payloads sent off and every refresh group's Broadcast
   * started, nothing applied yet.
   */
  static final class Launched {
    private final long sequence;
    private final boolean compress;
    private final Map<GroupPlan, float[]> sent;
    private final Map<GroupPlan, CompletableFuture<Collectives.Transfer>> transfers;

    private Launched(long sequence, boolean compress, Map<GroupPlan, float[]> sent,
        Map<GroupPlan, CompletableFuture<Collectives.Transfer>> transfers) {
      this.sequence = sequence;
      this.compress = compress;
      this.sent = sent;
      this.transfers = transfers;
    }
  }

  /** Exports the led groups' payloads (on the model thread) and starts the Broadcasts; {@code round} counts their bytes. */
  CompletionStage<Launched> launch(long step, Refresh kind, StageRunner.Step stages, Round round) {
    boolean compress = kind == Refresh.COMPRESSED && settings != null;
    long sequence = step * COLLECTIVES_PER_STEP;
    return stages.compute("exporting weights", () -> export(led(), compress))
        .thenApply(sent -> new Launched(sequence, compress, sent, start(groups.refresh(), sequence, sent, compress,
            round)));
  }

  /**
   * Waits for {@code launched}'s Broadcasts, applies what arrived (on the model thread), and, every
   * {@code check-every}-th compressed refresh, checks the copies and re-syncs a group astray;
   * {@code round} takes the transfer times.
   */
  CompletionStage<Void> finish(Launched launched, StageRunner.Step stages, Round round) {
    List<GroupPlan> mismatched = new ArrayList<>();
    boolean compress = launched.compress;
    CompletionStage<Void> refreshed = received(launched.transfers, launched.sent, round)
        .thenCompose(received -> stages.compute("applying refreshed weights", () -> {
          received.forEach((group, payload) -> {
            if (!compress) {
              model.importWeights(slices(group), payload);
              return;
            }
            float[] copy = model.exportWeights(slices(group));
            if (!RefreshCodec.receive(settings, copy, payload)) {
              mismatched.add(group);
            }
            model.importWeights(slices(group), copy);
          });
          return null;
        }));
    if (!compress || ++compressed % spec.refreshCompression().checkEvery() != 0) {
      return refreshed;
    }
    return refreshed.thenCompose(applied -> check(launched.sequence + 1, mismatched))
        .thenCompose(astray -> astray.isEmpty() ? CompletableFuture.<Void>completedFuture(null)
            : resync(astray, launched.sequence + 2, stages, round));
  }

  /** The led groups' payloads: their weights, or the change since the receivers' copy, compressed. */
  private Map<GroupPlan, float[]> export(List<GroupPlan> led, boolean compress) {
    Map<GroupPlan, float[]> payloads = new LinkedHashMap<>();
    for (GroupPlan group : led) {
      float[] weights = model.exportWeights(slices(group));
      RefreshCodec copy = copies.get(group);
      if (compress) {
        payloads.put(group, copy.encode(weights));
      } else {
        if (copy != null) {
          copy.resync(weights);
        }
        payloads.put(group, weights);
      }
    }
    return payloads;
  }

  /** One Broadcast per group of {@code toRefresh}, all at once: this device sends those in {@code sent}. */
  private Map<GroupPlan, CompletableFuture<Collectives.Transfer>> start(List<GroupPlan> toRefresh, long sequence,
      Map<GroupPlan, float[]> sent, boolean compress, Round round) {
    Map<GroupPlan, CompletableFuture<Collectives.Transfer>> started = new LinkedHashMap<>();
    for (GroupPlan group : toRefresh) {
      float[] payload = sent.get(group);
      int weights = model.weightLength(slices(group));
      int length = payload != null ? payload.length : compress ? settings.payloadLength(weights) : weights;
      round.bytes += 4L * length;
      started.put(group, collectives.broadcast(DeviceGroups.refreshId(spec.jobId(), group), sequence, payload, length)
          .toCompletableFuture());
    }
    return started;
  }

  /** What the Broadcasts of {@code started} brought this device (the groups it did not send), once all are done. */
  private CompletionStage<Map<GroupPlan, float[]>> received(Map<GroupPlan, CompletableFuture<Collectives.Transfer>>
      started, Map<GroupPlan, float[]> sent, Round round) {
    long start = System.nanoTime();
    return CompletableFuture.allOf(started.values().toArray(new CompletableFuture[0])).thenApply(all -> {
      round.waitedNanos += System.nanoTime() - start;
      Map<GroupPlan, float[]> received = new LinkedHashMap<>();
      long longest = 0;
      for (var entry : started.entrySet()) {
        Collectives.Transfer transfer = entry.getValue().join();
        if (!sent.containsKey(entry.getKey())) {
          received.put(entry.getKey(), transfer.result());
        }
        longest = Math.max(longest, transfer.transferNanos());
        round.groupNanos.merge(List.of(entry.getKey().groupId(), entry.getKey().isAllReduce() ? WireBytes.REFRESH
            : WireBytes.BROADCAST), transfer.transferNanos(), Long::sum);
      }
      round.nanos += longest;
      return received;
    });
  }

  /**
   * Every refresh group's members add up their mismatches (the leader adds none): the groups where a
   * receiver's copy is not the leader's.
   */
  private CompletionStage<List<GroupPlan>> check(long sequence, List<GroupPlan> mismatched) {
    Map<GroupPlan, CompletableFuture<Collectives.Transfer>> sums = new LinkedHashMap<>();
    for (GroupPlan group : groups.refresh()) {
      sums.put(group, collectives.sum(DeviceGroups.refreshId(spec.jobId(), group), sequence,
          new float[] {mismatched.contains(group) ? 1f : 0f}).toCompletableFuture());
    }
    return CompletableFuture.allOf(sums.values().toArray(new CompletableFuture[0])).thenApply(all -> {
      List<GroupPlan> astray = new ArrayList<>();
      sums.forEach((group, sum) -> {
        float count = sum.join().result()[0];
        if (count > 0) {
          astray.add(group);
          LOG.warn("job {}: {} device(s) hold a copy of group {} that is not its leader's (checksum): sent exactly"
              + " now", spec.jobId(), (int) count, group.groupId());
        }
      });
      return astray;
    });
  }

  /** The {@code astray} groups sent exactly, and taken as the receivers' copies. */
  private CompletionStage<Void> resync(List<GroupPlan> astray, long sequence, StageRunner.Step stages, Round round) {
    List<GroupPlan> led = led().stream().filter(astray::contains).toList();
    return stages.compute("exporting weights to re-sync", () -> export(led, false))
        .thenCompose(sent -> received(start(astray, sequence, sent, false, round), sent, round))
        .thenCompose(received -> stages.compute("applying re-synced weights", () -> {
          received.forEach((group, weights) -> model.importWeights(slices(group), weights));
          return null;
        }));
  }

  private static List<ChannelSlice> slices(GroupPlan group) {
    return Plans.channelSlices(group.slices());
  }
}
