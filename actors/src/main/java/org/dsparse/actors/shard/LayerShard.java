package org.dsparse.actors.shard;

import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.control.ControlMessage;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * The shard of one fused layer group: it lives on the group's home device, chosen by
 * {@link BudgetAwareAllocationStrategy}, and keeps the group's committed state: its weights (and
 * BatchNorm statistics) after the last step every device committed, that step as the version and,
 * when the group has one updater and that updater is the home, the updater's optimizer state of the
 * group's slices. A device that joins a re-planned job reads the model from these shards, each from
 * its own home at once ({@code Device}'s restore), instead of all of it from one device's snapshot.
 * One entity per shard, entity id = shard id = group id; entities are never passivated.
 *
 * <p>When a rebalance or a graceful leave hands the shard off, the entity sends its state to its
 * own group id on the way out, so the new home starts with it. A home that crashes loses it; the
 * shard restarts empty on a survivor when next messaged, readers fall back to device snapshots, and
 * the next commit fills it again.
 */
public final class LayerShard extends AbstractBehavior<LayerShard.Command> {
  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "LayerShard");

  /** The version of a shard that holds no weights yet. */
  public static final long NO_VERSION = -1;

  public sealed interface Command {}

  /** A message carrying shard weights: its bytes count on the shard channel, not as control. */
  interface WeightsMessage extends ControlMessage {
    @Override
    default String wireChannel() {
      return WireTraffic.SHARD;
    }
  }

  /** Asks the shard for its home, recording nothing: the demand is what placed it. */
  public record Assign(ShardDemand demand, ActorRef<Assigned> replyTo) implements Command, ControlMessage {}

  /**
   * Where a group's shard lives.
   *
   * @param homeDevice the device announced at the home node, or empty if that node announced none
   */
  public record Assigned(String groupId, String homeDevice, String homeAddress) implements ControlMessage {}

  /**
   * The group's state after {@code version} steps, sent by its home device; older or equal versions
   * are ignored.
   *
   * @param weights the weights, then the optimizer state of the group's slices one after another,
   *     when its home updates the group
   * @param weightsLength the floats of {@code weights} that are weights
   * @param optimizerUpdates optimizer steps behind the optimizer state
   * @param optimizerLengths each slice's floats of optimizer state, in the group's slice order; empty
   *     without optimizer state
   */
  public record StoreWeights(long version, float[] weights, int weightsLength, int optimizerUpdates,
      int[] optimizerLengths) implements Command, WeightsMessage {
    /** Weights alone. */
    public StoreWeights(long version, float[] weights) {
      this(version, weights, weights == null ? 0 : weights.length, 0, new int[0]);
    }
  }

  /**
   * One part of the group's state at {@code version}: floats {@code offset} onwards of
   * {@code totalLength}, laid out as {@link StoreWeights}'. The shard takes the version once all
   * parts have arrived; see {@link #storeState}.
   */
  public record StoreWeightsPart(long version, int offset, int totalLength, int weightsLength, int optimizerUpdates,
      int[] optimizerLengths, float[] part) implements Command, WeightsMessage {
    /** A part of weights alone. */
    public StoreWeightsPart(long version, int offset, int totalLength, float[] part) {
      this(version, offset, totalLength, totalLength, 0, new int[0], part);
    }
  }

  /**
   * The group's state after {@code version} steps in one message, from the device the shard lives on:
   * delivered in the same JVM, it passes the arrays themselves, so the shard shares the optimizer state
   * with the device's own snapshot instead of holding another copy of it. The arrays must not change.
   *
   * @param optimizer each slice's optimizer state, in the group's slice order; empty without it
   */
  public record StoreState(long version, float[] weights, List<float[]> optimizer, int optimizerUpdates)
      implements Command, WeightsMessage {
    public StoreState {
      optimizer = List.copyOf(optimizer);
    }
  }

  /** Asks for the latest weights in one message; for state of any size use {@link #fetchState}. */
  public record GetWeights(ActorRef<WeightsSnapshot> replyTo) implements Command, ControlMessage {}

  /**
   * Asks for the latest state as {@link WeightsPart}s, in order, at least one: the weights, then the
   * optimizer state of the group's slices at {@code optimizerSlices} (indices in the group's slice
   * order), one after another, when the shard keeps it: a reader is sent only the state it keeps.
   */
  public record GetWeightsParts(ActorRef<WeightsPart> replyTo, List<Integer> optimizerSlices)
      implements Command, ControlMessage {
    public GetWeightsParts {
      optimizerSlices = List.copyOf(optimizerSlices);
    }

    /** The weights alone. */
    public GetWeightsParts(ActorRef<WeightsPart> replyTo) {
      this(replyTo, List.of());
    }
  }

  /** Floats {@code offset} onwards of the group's {@code totalLength} floats of state at {@code version}. */
  public record WeightsPart(String groupId, long version, int offset, int totalLength, int weightsLength,
      int optimizerUpdates, float[] part) implements WeightsMessage {}

  /**
   * The shard's latest state, {@link #NO_VERSION} and none if it holds none. The arrays are the
   * shard's own: readers must not modify them.
   *
   * @param optimizer the optimizer state of the group's slices, as its one updater exported it; empty
   *     when the shard does not keep it
   */
  public record WeightsSnapshot(String groupId, long version, float[] weights, float[] optimizer,
      int optimizerUpdates) implements WeightsMessage {
    public WeightsSnapshot(String groupId, long version, float[] weights) {
      this(groupId, version, weights, new float[0], 0);
    }

    public boolean hasWeights() {
      return version != NO_VERSION;
    }

    /** Split from the layout the shard keeps: weights, then optimizer state. */
    static WeightsSnapshot of(String groupId, long version, float[] state, int weightsLength, int optimizerUpdates) {
      if (weightsLength == state.length) {
        return new WeightsSnapshot(groupId, version, state);
      }
      return new WeightsSnapshot(groupId, version, Arrays.copyOf(state, weightsLength),
          Arrays.copyOfRange(state, weightsLength, state.length), optimizerUpdates);
    }
  }

  public record GetHome(ActorRef<Assigned> replyTo) implements Command, ControlMessage {}

  /**
   * The group's job has ended (or re-planned): the entity stops and frees its weights, then answers
   * {@code replyTo} (when given), so that whoever ends the job knows no hand-off will move it again.
   */
  public record Retire(ActorRef<Retired> replyTo) implements Command, ControlMessage {}

  public record Retired(String groupId) implements ControlMessage {}

  /** Cluster role of the nodes that host shards: those with a device. Other nodes get a proxy. */
  public static final String HOST_ROLE = "device";

  private record HomeLookedUp(DirectorySnapshot directory, ActorRef<Assigned> replyTo) implements Command {}

  /** Sharding's stop message on hand-off: the entity passes its weights on, then stops. */
  private enum HandOff implements Command { INSTANCE }

  private final String groupId;
  private final String homeAddress;
  private final int chunkFloats;
  private long version = NO_VERSION;
  private float[] weights = new float[0];
  /** Each slice's optimizer state, in the group's slice order; empty when the shard keeps none. */
  private List<float[]> optimizer = List.of();
  private int optimizerUpdates;
  // Parts of a newer version being received, committed once every float has arrived; null once
  // committed or abandoned.
  private long partialVersion = NO_VERSION;
  private float[] partial;
  private int partialReceived;

  private LayerShard(ActorContext<Command> context, String groupId) {
    super(context);
    this.groupId = groupId;
    this.homeAddress = Cluster.get(context.getSystem()).selfMember().address().toString();
    this.chunkFloats = DeviceDirectory.get(context.getSystem()).settings().weightsChunkFloats();
  }

  static Behavior<Command> create(String groupId) {
    ShardDemand.checkGroupId(groupId);
    return Behaviors.setup(context -> new LayerShard(context, groupId));
  }

  /** Registers the entity type on this node; every node that may host shards calls it at start-up. */
  public static ActorRef<ShardingEnvelope<Command>> init(ActorSystem<?> system) {
    ShardSettings settings = DeviceDirectory.get(system).settings();
    ClusterShardingSettings sharding = ClusterShardingSettings.create(system).withNoPassivationStrategy();
    sharding = sharding.withTuningParameters(
        sharding.tuningParameters().withRebalanceInterval(settings.rebalanceInterval()));
    return ClusterSharding.get(system).init(Entity.of(TYPE_KEY, context -> create(context.getEntityId()))
        .withSettings(sharding)
        .withStopMessage(HandOff.INSTANCE)
        .withRole(HOST_ROLE)
        .withAllocationStrategy(new BudgetAwareAllocationStrategy(system))
        .withMessageExtractor(new GroupIdExtractor()));
  }

  /**
   * Completes once sharding's coordinator has a shard region registered on each node of
   * {@code addresses} (cluster addresses), so that a shard placed next can go to any of them: a
   * node's region registers a moment after the node is Up. At {@code timeout} it completes anyway
   * with the addresses still missing, which the caller reports; otherwise with none.
   */
  public static CompletionStage<Set<String>> awaitRegions(ActorSystem<?> system, Collection<String> addresses,
      Duration timeout) {
    org.apache.pekko.actor.ActorRef region = org.apache.pekko.cluster.sharding.ClusterSharding
        .get(Adapter.toClassic(system)).shardRegion(TYPE_KEY.name());
    String self = Cluster.get(system).selfMember().address().toString();
    long deadline = System.nanoTime() + timeout.toNanos();
    CompletableFuture<Set<String>> result = new CompletableFuture<>();
    pollRegions(system, region, self, Set.copyOf(addresses), deadline, result);
    return result;
  }

  private static void pollRegions(ActorSystem<?> system, org.apache.pekko.actor.ActorRef region, String self,
      Set<String> wanted, long deadline, CompletableFuture<Set<String>> result) {
    Patterns.ask(region, ShardRegion.getCurrentRegionsInstance(), Duration.ofSeconds(2))
        .whenComplete((answer, error) -> {
          Set<String> missing = new TreeSet<>(wanted);
          if (answer instanceof ShardRegion.CurrentRegions current) {
            // A node's own region is listed by its local address, without host and port.
            current.getRegions().forEach(a -> missing.remove(a.hasLocalScope() ? self : a.toString()));
          }
          if (missing.isEmpty() || System.nanoTime() > deadline) {
            result.complete(missing);
          } else {
            system.scheduler().scheduleOnce(Duration.ofMillis(100),
                () -> pollRegions(system, region, self, wanted, deadline, result), system.executionContext());
          }
        });
  }

  /** The shard of {@code groupId}, wherever it lives. */
  public static EntityRef<Command> shardOf(ActorSystem<?> system, String groupId) {
    ShardDemand.checkGroupId(groupId);
    return ClusterSharding.get(system).entityRefFor(TYPE_KEY, groupId);
  }

  /** {@code command} for the shard of {@code groupId}, for the region returned by {@link #init}. */
  public static ShardingEnvelope<Command> envelope(String groupId, Command command) {
    ShardDemand.checkGroupId(groupId);
    return new ShardingEnvelope<>(groupId, command);
  }

  /**
   * Publishes the group's demand in the {@link DeviceDirectory}, then starts its shard where the
   * demand fits and answers where that is.
   */
  public static CompletionStage<Assigned> assign(ActorSystem<?> system, ShardDemand demand, Duration timeout) {
    return DeviceDirectory.get(system).demand(demand).thenCompose(written ->
        shardOf(system, demand.groupId()).ask(replyTo -> new Assign(demand, replyTo), timeout));
  }

  /**
   * Stops the shard of {@code groupId}; completes once it has, and fails after {@code timeout}. A
   * shard stopped before its node leaves is not handed off: nothing re-homes the weights of a job
   * that has ended.
   */
  public static CompletionStage<Retired> retire(ActorSystem<?> system, String groupId, Duration timeout) {
    return shardOf(system, groupId).ask(Retire::new, timeout);
  }

  /**
   * Stores the group's state after {@code version} steps, from the device the shard lives on: one
   * {@link StoreState}, whose arrays the shard keeps as they are.
   */
  public static void keepState(ActorSystem<?> system, String groupId, long version, float[] weights,
      List<float[]> optimizer, int optimizerUpdates) {
    shardOf(system, groupId).tell(new StoreState(version, weights, optimizer, optimizerUpdates));
  }

  /**
   * Stores the group's state after {@code version} steps: its weights and, when not empty, the
   * optimizer state of each of its slices ({@code optimizerUpdates} steps behind it), in parts.
   */
  public static void storeState(ActorSystem<?> system, String groupId, long version, float[] weights,
      List<float[]> optimizer, int optimizerUpdates) {
    EntityRef<Command> shard = shardOf(system, groupId);
    int[] lengths = optimizer.stream().mapToInt(s -> s.length).toArray();
    float[] state = Arrays.copyOf(weights, weights.length + Arrays.stream(lengths).sum());
    int at = weights.length;
    for (float[] slice : optimizer) {
      System.arraycopy(slice, 0, state, at, slice.length);
      at += slice.length;
    }
    int chunk = DeviceDirectory.get(system).settings().weightsChunkFloats();
    if (state.length <= chunk) {
      shard.tell(new StoreWeights(version, state, weights.length, optimizerUpdates, lengths));
      return;
    }
    for (int offset = 0; offset < state.length; offset += chunk) {
      float[] part = Arrays.copyOfRange(state, offset, Math.min(state.length, offset + chunk));
      shard.tell(new StoreWeightsPart(version, offset, state.length, weights.length, optimizerUpdates, lengths, part));
    }
  }

  /**
   * The group's latest state, fetched in parts, with the optimizer state of the group's slices at
   * {@code optimizerSlices} alone (its snapshot's {@code optimizer}, one slice after another; empty
   * when the shard keeps none); fails naming the group if the parts are not all in within
   * {@code timeout}.
   */
  public static CompletionStage<WeightsSnapshot> fetchState(ActorSystem<?> system, String groupId,
      List<Integer> optimizerSlices, Duration timeout) {
    ShardDemand.checkGroupId(groupId);
    CompletableFuture<WeightsSnapshot> result = new CompletableFuture<>();
    system.systemActorOf(WeightsAssembler.create(groupId, optimizerSlices, timeout, result),
        "dsparse-weights-" + UUID.randomUUID(), Props.empty());
    return result;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Assign.class, this::onAssign)
        .onMessage(GetHome.class, this::onGetHome)
        .onMessage(HomeLookedUp.class, this::onHomeLookedUp)
        .onMessage(StoreWeights.class, this::onStoreWeights)
        .onMessage(StoreState.class, this::onStoreState)
        .onMessage(StoreWeightsPart.class, this::onStoreWeightsPart)
        .onMessage(GetWeights.class, this::onGetWeights)
        .onMessage(GetWeightsParts.class, this::onGetWeightsParts)
        .onMessageEquals(HandOff.INSTANCE, this::onHandOff)
        .onMessage(Retire.class, this::onRetire)
        .build();
  }

  private Behavior<Command> onRetire(Retire retire) {
    if (retire.replyTo() != null) {
      retire.replyTo().tell(new Retired(groupId));
    }
    return Behaviors.stopped();
  }

  private Behavior<Command> onAssign(Assign assign) {
    if (!assign.demand().groupId().equals(groupId)) {
      getContext().getLog().error("shard {} was sent the assignment of group {}; ignored",
          groupId, assign.demand().groupId());
      return this;
    }
    return lookUpHome(assign.replyTo());
  }

  private Behavior<Command> onGetHome(GetHome get) {
    return lookUpHome(get.replyTo());
  }

  private Behavior<Command> lookUpHome(ActorRef<Assigned> replyTo) {
    getContext().pipeToSelf(DeviceDirectory.get(getContext().getSystem()).read(), (directory, failure) ->
        new HomeLookedUp(failure == null ? directory : DirectorySnapshot.EMPTY, replyTo));
    return this;
  }

  private Behavior<Command> onHomeLookedUp(HomeLookedUp found) {
    String device = found.directory().deviceAt(homeAddress).map(DeviceEntry::device).orElse("");
    if (device.isEmpty()) {
      getContext().getLog().warn("shard {} lives on {}, where no device has announced itself", groupId, homeAddress);
    }
    found.replyTo().tell(new Assigned(groupId, device, homeAddress));
    return this;
  }

  private Behavior<Command> onStoreWeights(StoreWeights store) {
    if (store.weights() == null || store.version() < 0 || !fits(store.weights().length, store.weightsLength(),
        store.optimizerLengths())) {
      getContext().getLog().error("shard {}: StoreWeights needs weights, a version >= 0 and at most as many weights "
          + "as floats, got version {}", groupId, store.version());
    } else if (store.version() <= version) {
      getContext().getLog().debug("shard {}: version {} ignored, holding {}", groupId, store.version(), version);
    } else {
      take(store.version(), store.weights(), store.weightsLength(), store.optimizerLengths(), store.optimizerUpdates());
    }
    return this;
  }

  private Behavior<Command> onStoreWeightsPart(StoreWeightsPart part) {
    if (part.version() <= version || part.version() < partialVersion) {
      return this;
    }
    if (part.version() > partialVersion) {
      partialVersion = part.version();
      partial = new float[Math.max(0, part.totalLength())];
      partialReceived = 0;
    }
    if (partial == null) {
      return this; // this version was abandoned
    }
    if (part.part() == null || part.totalLength() != partial.length || part.offset() < 0
        || part.offset() > partial.length - part.part().length
        || !fits(part.totalLength(), part.weightsLength(), part.optimizerLengths())) {
      getContext().getLog().error("shard {}: version {} abandoned, a part does not fit: offset {}, {} floats, "
          + "total {} (expected {})", groupId, part.version(), part.offset(),
          part.part() == null ? 0 : part.part().length, part.totalLength(), partial.length);
      partial = null;
      return this;
    }
    System.arraycopy(part.part(), 0, partial, part.offset(), part.part().length);
    partialReceived += part.part().length;
    if (partialReceived == partial.length) {
      take(partialVersion, partial, part.weightsLength(), part.optimizerLengths(), part.optimizerUpdates());
      partial = null;
    }
    return this;
  }

  private Behavior<Command> onGetWeightsParts(GetWeightsParts get) {
    float[] asked = asked(get.optimizerSlices());
    if (asked.length == 0) {
      get.replyTo().tell(new WeightsPart(groupId, version, 0, 0, 0, 0, asked));
    }
    for (int offset = 0; offset < asked.length; offset += chunkFloats) {
      float[] part = Arrays.copyOfRange(asked, offset, Math.min(asked.length, offset + chunkFloats));
      get.replyTo().tell(new WeightsPart(groupId, version, offset, asked.length, weights.length, optimizerUpdates,
          part));
    }
    return this;
  }

  private Behavior<Command> onGetWeights(GetWeights get) {
    float[] all = asked(java.util.stream.IntStream.range(0, optimizer.size()).boxed().toList());
    get.replyTo().tell(WeightsSnapshot.of(groupId, version, all, weights.length, optimizerUpdates));
    return this;
  }

  private Behavior<Command> onHandOff() {
    if (version != NO_VERSION && anotherMemberIsUp()) {
      // The region buffers this until the coordinator has allocated the shard's new home. With no
      // other member there is no new home, and the buffered message would hold up the shutdown.
      storeState(getContext().getSystem(), groupId, version, weights, optimizer, optimizerUpdates);
    }
    return Behaviors.stopped();
  }

  /** Whether a state of {@code total} floats holds {@code weightsLength} weights and then exactly those slices' state. */
  private static boolean fits(int total, int weightsLength, int[] optimizerLengths) {
    if (weightsLength < 0 || weightsLength > total || optimizerLengths == null) {
      return false;
    }
    long sum = weightsLength;
    for (int length : optimizerLengths) {
      if (length < 0) {
        return false;
      }
      sum += length;
    }
    return sum == total;
  }

  private Behavior<Command> onStoreState(StoreState store) {
    if (store.weights() == null || store.version() < 0) {
      getContext().getLog().error("shard {}: StoreState needs weights and a version >= 0, got version {}", groupId,
          store.version());
    } else if (store.version() > version) {
      version = store.version();
      weights = store.weights();
      optimizer = store.optimizer();
      optimizerUpdates = store.optimizerUpdates();
    }
    return this;
  }

  /** A version laid out as one array (weights, then each slice's optimizer state): kept apart. */
  private void take(long taken, float[] state, int weightsLength, int[] optimizerLengths, int updates) {
    version = taken;
    weights = Arrays.copyOf(state, weightsLength);
    List<float[]> slices = new java.util.ArrayList<>();
    int at = weightsLength;
    for (int length : optimizerLengths) {
      slices.add(Arrays.copyOfRange(state, at, at + length));
      at += length;
    }
    optimizer = List.copyOf(slices);
    optimizerUpdates = updates;
  }

  /** The weights, then the optimizer state of the slices at {@code indices} that the shard keeps. */
  private float[] asked(List<Integer> indices) {
    int length = weights.length;
    for (int i : indices) {
      length += i >= 0 && i < optimizer.size() ? optimizer.get(i).length : 0;
    }
    float[] asked = Arrays.copyOf(weights, length);
    int to = weights.length;
    for (int i : indices) {
      if (i >= 0 && i < optimizer.size()) {
        System.arraycopy(optimizer.get(i), 0, asked, to, optimizer.get(i).length);
        to += optimizer.get(i).length;
      }
    }
    return asked;
  }

  private boolean anotherMemberIsUp() {
    Cluster cluster = Cluster.get(getContext().getSystem());
    return StreamSupport.stream(cluster.state().getMembers().spliterator(), false)
        .anyMatch(m -> m.status() == MemberStatus.up() && !m.address().equals(cluster.selfMember().address()));
  }

  /** Shard id = entity id = group id: one entity per shard, so that each group is placed on its own. */
  private static final class GroupIdExtractor extends ShardingMessageExtractor<ShardingEnvelope<Command>, Command> {
    @Override
    public String entityId(ShardingEnvelope<Command> envelope) {
      return envelope.entityId();
    }

    @Override
    public String shardId(String entityId) {
      return entityId;
    }

    @Override
    public Command unwrapMessage(ShardingEnvelope<Command> envelope) {
      return envelope.message();
    }
  }
}
