package org.dsparse.actors.shard;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.dsparse.core.placement.ShardDemand;

/**
 * The cluster-wide registry of devices (name, node address, budget, reserved bytes) and of the
 * layer groups' {@link ShardDemand}s, replicated with Pekko Distributed Data. Devices
 * {@link #announce} themselves when they start; the job coordinator publishes each group's
 * {@link #demand} before its shard is first messaged, so that the allocation strategy finds it.
 * Writes go to every member (within {@code dsparse.shard.directory.write-timeout}); entries are
 * last-writer-wins per device and per group.
 */
public final class DeviceDirectory implements Extension {
  static final Key<LWWMap<String, DeviceEntry>> DEVICES = LWWMapKey.create("dsparse-shard-devices");
  static final Key<LWWMap<String, PublishedDemand>> DEMANDS = LWWMapKey.create("dsparse-shard-demands");

  private static final Replicator.ReadConsistency LOCAL = Replicator.readLocal();
  private static final Id ID = new Id();

  private final ActorSystem<?> system;
  private final ShardSettings settings;
  private final ActorRef<Replicator.Command> replicator;
  private final SelfUniqueAddress self;

  private DeviceDirectory(ActorSystem<?> system) {
    this.system = system;
    this.settings = ShardSettings.fromConfig(system.settings().config());
    DistributedData ddata = DistributedData.get(system);
    this.replicator = ddata.replicator();
    this.self = ddata.selfUniqueAddress();
  }

  public static DeviceDirectory get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /**
   * Adds or replaces the entry of {@code entry.device()}; completes once every member this node's
   * replicator knows has it (a node that has just joined may not know them all yet: gossip then
   * brings the entry to the others).
   */
  public CompletionStage<Done> announce(DeviceEntry entry) {
    return write(DEVICES, "device " + entry.device(), map -> map.put(self, entry.device(), entry));
  }

  /** Adds or replaces the demand of {@code demand.groupId()}; completes as {@link #announce} does. */
  public CompletionStage<Done> demand(ShardDemand demand) {
    return write(DEMANDS, "group " + demand.groupId(),
        map -> map.put(self, demand.groupId(), new PublishedDemand(demand)));
  }

  /** This node's replica now: what the writes and gossip that reached this node have made of it. */
  public CompletionStage<DirectorySnapshot> read() {
    return read(LOCAL);
  }

  /**
   * The directory merged from every member's replica: it includes what this node has not heard of
   * yet (an entry written elsewhere that gossip has not brought here). Within {@code dsparse.shard.directory.read-timeout}; if a member does not answer in
   * time, this node's replica.
   */
  public CompletionStage<DirectorySnapshot> readFromAll() {
    return read(new Replicator.ReadAll(settings.directoryReadTimeout()));
  }

  public ShardSettings settings() {
    return settings;
  }

  static DirectorySnapshot snapshotOf(LWWMap<String, DeviceEntry> devices, LWWMap<String, PublishedDemand> demands) {
    return new DirectorySnapshot(devices.getEntries(), demands.getEntries().entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().demand())));
  }

  private <V> CompletionStage<Done> write(Key<LWWMap<String, V>> key, String what,
      Function<LWWMap<String, V>, LWWMap<String, V>> modify) {
    Duration timeout = settings.directoryWriteTimeout();
    CompletionStage<Replicator.UpdateResponse<LWWMap<String, V>>> reply = AskPattern.ask(replicator,
        replyTo -> new Replicator.Update<>(key, LWWMap.create(), new Replicator.WriteAll(timeout), replyTo,
            modify::apply),
        timeout.plusSeconds(1), system.scheduler());
    return reply.thenCompose(response -> {
      if (response instanceof Replicator.UpdateSuccess) {
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      String problem = response instanceof Replicator.UpdateTimeout
          ? "reached not every member within " + timeout + "; it still spreads by gossip"
          : "was not written: " + response;
      return CompletableFuture.failedFuture(
          new IllegalStateException("device directory: entry of " + what + " " + problem));
    });
  }

  private CompletionStage<DirectorySnapshot> read(Replicator.ReadConsistency consistency) {
    CompletionStage<LWWMap<String, DeviceEntry>> devices = read(DEVICES, consistency);
    CompletionStage<LWWMap<String, PublishedDemand>> demands = read(DEMANDS, consistency);
    return devices.thenCombine(demands, DeviceDirectory::snapshotOf);
  }

  private <V> CompletionStage<LWWMap<String, V>> read(Key<LWWMap<String, V>> key,
      Replicator.ReadConsistency consistency) {
    CompletionStage<Replicator.GetResponse<LWWMap<String, V>>> reply = AskPattern.ask(replicator,
        replyTo -> new Replicator.Get<>(key, consistency, replyTo),
        settings.directoryReadTimeout().plusSeconds(1), system.scheduler());
    return reply.thenCompose(response -> {
      if (response instanceof Replicator.GetSuccess<LWWMap<String, V>> found) {
        return CompletableFuture.completedFuture(found.dataValue());
      }
      if (response instanceof Replicator.GetFailure && consistency != LOCAL) {
        return read(key, LOCAL); // a member did not answer in time: what this node has
      }
      return CompletableFuture.completedFuture(LWWMap.create()); // NotFound: nothing written yet
    });
  }

  /** Creates the directory, once per actor system. */
  public static final class Id extends ExtensionId<DeviceDirectory> {
    @Override
    public DeviceDirectory createExtension(ActorSystem<?> system) {
      return new DeviceDirectory(system);
    }
  }
}
