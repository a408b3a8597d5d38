package org.dsparse.actors.shard;

import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.ReplicatedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;

/** Follows this node's replica of the directory and hands every change to the {@link DeviceDirectory}. */
final class DirectoryReplica extends AbstractBehavior<DirectoryReplica.Command> {
  sealed interface Command {}

  private record DevicesChanged(LWWMap<String, DeviceEntry> devices) implements Command {}

  private record DemandsChanged(LWWMap<String, PublishedDemand> demands) implements Command {}

  /** The directory's data are never deleted; a deletion would be a bug elsewhere, so it is logged. */
  private record Deleted(String key) implements Command {}

  private final Consumer<DirectorySnapshot> publish;
  private LWWMap<String, DeviceEntry> devices = LWWMap.create();
  private LWWMap<String, PublishedDemand> demands = LWWMap.create();

  static Behavior<Command> create(Consumer<DirectorySnapshot> publish) {
    return Behaviors.setup(context -> new DirectoryReplica(context, publish));
  }

  @SuppressWarnings("unchecked")
  private DirectoryReplica(ActorContext<Command> context, Consumer<DirectorySnapshot> publish) {
    super(context);
    this.publish = publish;
    var replicator = DistributedData.get(context.getSystem()).replicator();
    // One adapter for both keys: a context keeps one adapter per message class.
    ActorRef<Replicator.SubscribeResponse> changes = context.messageAdapter(Replicator.SubscribeResponse.class,
        response -> {
          if (!(response instanceof Replicator.Changed<?> changed)) {
            return new Deleted(response.key().id());
          }
          return response.key().equals(DeviceDirectory.DEVICES)
              ? new DevicesChanged((LWWMap<String, DeviceEntry>) changed.dataValue())
              : new DemandsChanged((LWWMap<String, PublishedDemand>) changed.dataValue());
        });
    replicator.tell(new Replicator.Subscribe<>(DeviceDirectory.DEVICES, narrow(changes)));
    replicator.tell(new Replicator.Subscribe<>(DeviceDirectory.DEMANDS, narrow(changes)));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static <A extends ReplicatedData> ActorRef<Replicator.SubscribeResponse<A>> narrow(
      ActorRef<Replicator.SubscribeResponse> ref) {
    return (ActorRef) ref;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(DevicesChanged.class, this::onDevicesChanged)
        .onMessage(DemandsChanged.class, this::onDemandsChanged)
        .onMessage(Deleted.class, this::onDeleted)
        .build();
  }

  private Behavior<Command> onDevicesChanged(DevicesChanged changed) {
    devices = changed.devices();
    publish.accept(DeviceDirectory.snapshotOf(devices, demands));
    return this;
  }

  private Behavior<Command> onDeleted(Deleted deleted) {
    getContext().getLog().error("device directory: replicated key {} was deleted", deleted.key());
    return this;
  }

  private Behavior<Command> onDemandsChanged(DemandsChanged changed) {
    demands = changed.demands();
    publish.accept(DeviceDirectory.snapshotOf(devices, demands));
    return this;
  }
}
