package org.dsparse.actors.shard;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.core.placement.DeviceLoad;
import org.dsparse.core.placement.Home;
import org.dsparse.core.placement.Move;
import org.dsparse.core.placement.Placement;
import org.dsparse.core.placement.ShardDemand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;
import scala.jdk.javaapi.FutureConverters;

/**
 * Places layer-group shards with {@link Placement}: each shard region stands for the device
 * announced at its node's address in the {@link DeviceDirectory}, with the device's budget less its
 * training reservation and the weights of the shards it hosts as free bytes. Regions of nodes that
 * have announced no device take no shards while any device is known; before any is (the directory
 * has not replicated yet), a shard goes to the region hosting the fewest, and the next rebalance
 * moves it where it belongs. When this node's replica lacks the shard's demand or the device of a
 * region, the shard is placed with the directory as all members hold it: entries spread by gossip,
 * so a device that just joined, or a demand written on another node, may not have arrived here.
 */
public final class BudgetAwareAllocationStrategy extends ShardCoordinator.AbstractShardAllocationStrategy {
  private static final Logger log = LoggerFactory.getLogger(BudgetAwareAllocationStrategy.class);

  private final ActorSystem<?> system;
  private final DeviceDirectory directory;
  private final int maxSimultaneousMoves;
  // The coordinator offers rebalance every registered region but allocation only those not shutting
  // down, and a region shuts down before its node leaves the cluster, so membership does not show it
  // yet. A region offered before but left out of a later allocation is departing: moving a shard
  // there would only bounce it back. Updated on the coordinator's thread.
  private final Set<ActorRef> knownRegions = ConcurrentHashMap.newKeySet();
  private final Set<ActorRef> departingRegions = ConcurrentHashMap.newKeySet();

  public BudgetAwareAllocationStrategy(ActorSystem<?> system) {
    this.system = system;
    this.directory = DeviceDirectory.get(system);
    this.maxSimultaneousMoves = directory.settings().maxSimultaneousMoves();
  }

  @Override
  public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
      Map<ActorRef, IndexedSeq<String>> currentShardAllocations) {
    Map<ActorRef, List<String>> current = toJava(currentShardAllocations);
    knownRegions.stream().filter(r -> !current.containsKey(r)).forEach(departingRegions::add);
    knownRegions.addAll(current.keySet());
    CompletionStage<ActorRef> region = directory.read()
        .thenCompose(local -> knowsAll(shardId, current, local) ? CompletableFuture.completedFuture(local)
            : directory.readFromAll())
        .exceptionally(failure -> {
          log.warn("shard {}: device directory unreadable ({}); placing by shard count", shardId, failure.toString());
          return DirectorySnapshot.EMPTY;
        })
        .thenApply(snapshot -> allocate(shardId, current, snapshot));
    return FutureConverters.asScala(region);
  }

  @Override
  public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> currentShardAllocations,
      Set<String> rebalanceInProgress) {
    Map<ActorRef, List<String>> current = toJava(currentShardAllocations);
    departingRegions.retainAll(current.keySet());
    knownRegions.retainAll(current.keySet());
    knownRegions.addAll(current.keySet());
    departingRegions.forEach(current::remove);
    int budget = maxSimultaneousMoves - rebalanceInProgress.size();
    if (budget <= 0) {
      return Future.successful(Set.of());
    }
    CompletionStage<Set<String>> moves = directory.read()
        .thenApply(snapshot -> shardsToMove(current, rebalanceInProgress, snapshot, budget))
        .exceptionally(failure -> {
          log.warn("device directory unreadable ({}); no shard moves this round", failure.toString());
          return Set.of();
        });
    return FutureConverters.asScala(moves);
  }

  /**
   * Whether this node's replica has the shard's demand and a device for every region. Entries
   * spread by gossip, so a device that joined a moment ago, or a demand written on another node,
   * may not have reached the coordinator's node yet.
   */
  private boolean knowsAll(String shardId, Map<ActorRef, List<String>> current, DirectorySnapshot snapshot) {
    return snapshot.demands().containsKey(shardId)
        && current.keySet().stream().allMatch(r -> snapshot.deviceAt(addressOf(r).toString()).isPresent());
  }

  private ActorRef allocate(String shardId, Map<ActorRef, List<String>> current, DirectorySnapshot snapshot) {
    Devices devices = devicesOf(current, snapshot, Set.of());
    if (devices.regions.isEmpty()) {
      return current.entrySet().stream()
          .min(Comparator.comparingInt((Map.Entry<ActorRef, List<String>> e) -> e.getValue().size())
              .thenComparing(e -> addressOf(e.getKey()).toString()))
          .orElseThrow(() -> new IllegalStateException("no shard region to host group " + shardId))
          .getKey();
    }
    ShardDemand demand = snapshot.demandOf(shardId);
    Home home = Placement.chooseHome(demand, devices.loads);
    if (home.overBudget()) {
      long free = devices.loads.stream().filter(l -> l.device().equals(home.device())).findFirst()
          .orElseThrow().freeBytes();
      // Free bytes go below zero when training already takes more than the budget: say so instead.
      log.warn("group {} goes over budget on device {}, the one with the most room: its weights take {} MiB, {}",
          shardId, home.device(), mib(demand.weightBytes()), free >= 0 ? "the device has " + mib(free) + " MiB left"
              : "the device is already " + mib(-free) + " MiB over its budget");
    }
    return devices.regions.get(home.device());
  }

  private Set<String> shardsToMove(Map<ActorRef, List<String>> current, Set<String> inProgress,
      DirectorySnapshot snapshot, int budget) {
    Devices devices = devicesOf(current, snapshot, inProgress);
    Set<String> shards = new HashSet<>();
    for (Move move : Placement.rebalance(devices.allocation, devices.loads, snapshot.demands(), budget)) {
      log.info("moving group {} from device {} to {}: {}", move.groupId(), move.from(), move.to(), move.reason());
      shards.add(move.groupId());
    }
    return shards;
  }

  /** The announced devices among the regions, their loads and shards (except those already moving). */
  private Devices devicesOf(Map<ActorRef, List<String>> current, DirectorySnapshot snapshot, Set<String> moving) {
    Devices devices = new Devices();
    for (var entry : current.entrySet()) {
      snapshot.deviceAt(addressOf(entry.getKey()).toString()).ifPresent(device -> {
        List<String> hosted = entry.getValue().stream().filter(s -> !moving.contains(s)).sorted().toList();
        long hostedBytes = hosted.stream().mapToLong(s -> snapshot.demandOf(s).weightBytes()).sum();
        devices.regions.put(device.device(), entry.getKey());
        devices.allocation.put(device.device(), hosted);
        devices.loads.add(DeviceLoad.of(device.device(), device.budgetBytes(), device.reservedBytes(), hostedBytes));
      });
    }
    return devices;
  }

  /** A region's node address; the coordinator's own region has a local path, so it is this node. */
  private Address addressOf(ActorRef region) {
    Address address = region.path().address();
    return address.hasGlobalScope() ? address : Cluster.get(system).selfMember().address();
  }

  private static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.2f", bytes / 1048576.0);
  }

  private static Map<ActorRef, List<String>> toJava(Map<ActorRef, IndexedSeq<String>> allocations) {
    Map<ActorRef, List<String>> result = new HashMap<>();
    allocations.forEach((region, shards) -> result.put(region, List.copyOf(CollectionConverters.asJava(shards))));
    return result;
  }

  private static final class Devices {
    final Map<String, ActorRef> regions = new LinkedHashMap<>();
    final Map<String, List<String>> allocation = new LinkedHashMap<>();
    final List<DeviceLoad> loads = new ArrayList<>();
  }
}
