package org.dsparse.actors.collective;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.dsparse.core.collective.ChunkRejection;
import org.dsparse.core.collective.ReduceOp;
import org.dsparse.protocol.collective.Chunk;
import org.dsparse.protocol.collective.CollectiveAborted;
import org.dsparse.protocol.collective.CollectiveKind;
import org.dsparse.protocol.collective.CollectiveStarted;
import org.dsparse.protocol.collective.PeerMessage;
import org.dsparse.protocol.wire.WireTraffic;

/**
 * One member's end of a process group: runs the group's collectives (chunked ring AllReduce and
 * AllGather, pipelined chain Broadcast) one after the other, in sequence-number order, with the group actors
 * of the other members. See the package documentation for the API and the failure model.
 */
public final class ProcessGroup extends AbstractBehavior<ProcessGroup.Command> {

  /** Everything a process group actor handles. */
  public sealed interface Command
      permits AllReduce, AllGather, Broadcast, GetStats, PeerMessageReceived, PeersListed, MemberChanged, DeadlinePassed,
      DataPath.Event {}

  /**
   * Sum or mean of {@code buffer} across all members, computed in place: the reply carries the same
   * array, and the caller must not touch it until the reply arrives. Sequence numbers must increase
   * strictly per group and all members must use the same one, op, length and part lengths.
   *
   * <p>The ring sums each element in an order set by the member part it falls in. {@code partLengths}
   * (one per member, summing to the buffer's length) chooses the parts; empty: parts of equal length.
   * A caller that puts each element in the same part whether a vector is reduced whole or in pieces
   * gets the same floats, bit for bit, either way.
   */
  public record AllReduce(long sequence, float[] buffer, int[] partLengths, ReduceOp op,
      ActorRef<CollectiveOutcome> replyTo) implements Command {
    public AllReduce {
      Objects.requireNonNull(buffer, "buffer");
      Objects.requireNonNull(partLengths, "partLengths");
      Objects.requireNonNull(op, "op");
      Objects.requireNonNull(replyTo, "replyTo");
      if (partLengths.length > 0 && java.util.Arrays.stream(partLengths).asLongStream().sum() != buffer.length) {
        throw new IllegalArgumentException("part lengths " + java.util.Arrays.toString(partLengths)
            + " do not add up to the buffer's " + buffer.length + " floats");
      }
    }

    /** The AllReduce of a buffer in parts of equal length. */
    public AllReduce(long sequence, float[] buffer, ReduceOp op, ActorRef<CollectiveOutcome> replyTo) {
      this(sequence, buffer, new int[0], op, replyTo);
    }
  }

  /**
   * Every member's part of {@code buffer} to every member, in place: member {@code r} fills part
   * {@code r} of {@code partLength} floats ({@code buffer} holds one part per member, in rank order)
   * and the reply carries the same array with every part filled, bit for bit as its member sent it.
   */
  public record AllGather(long sequence, float[] buffer, ActorRef<CollectiveOutcome> replyTo) implements Command {
    public AllGather {
      Objects.requireNonNull(buffer, "buffer");
      Objects.requireNonNull(replyTo, "replyTo");
    }
  }

  /**
   * Copies the owner's {@code buffer} into every other member's {@code buffer}, which must have the
   * same length. The reply carries {@code buffer}.
   */
  public record Broadcast(long sequence, int ownerRank, float[] buffer, ActorRef<CollectiveOutcome> replyTo)
      implements Command {
    public Broadcast {
      Objects.requireNonNull(buffer, "buffer");
      Objects.requireNonNull(replyTo, "replyTo");
    }

    /** A non-owner's request: the data lands in a fresh array of {@code length} floats. */
    public static Broadcast receive(long sequence, int ownerRank, int length, ActorRef<CollectiveOutcome> replyTo) {
      return new Broadcast(sequence, ownerRank, new float[length], replyTo);
    }
  }

  /** Asks for the counters of this member's group actor. */
  public record GetStats(ActorRef<GroupStats> replyTo) implements Command {}

  /**
   * Chunks (and data-link connections) refused by reason, collectives finished, and where this
   * member listens for its predecessor's data link ({@code host:port}, TCP transport only).
   */
  public record GroupStats(String groupId, Map<ChunkRejection, Long> rejectedChunks, long completed, long failed,
      Optional<String> dataEndpoint) {
    public long rejected(ChunkRejection reason) {
      return rejectedChunks.getOrDefault(reason, 0L);
    }
  }

  /** Reply to {@link AllReduce}, {@link AllGather} and {@link Broadcast}. */
  public sealed interface CollectiveOutcome permits Completed, Failed {
    String groupId();

    long sequence();
  }

  /**
   * The collective finished on this member; {@code result} is the request's buffer, now final.
   * {@code transferNanos} is the time from the moment every member had started it to its end here:
   * the collective's own cost, without the wait for members that started late. {@code
   * dataThreadCpuNanos} is the CPU time this member's data thread spent on it over the TCP
   * transport, system calls included; -1 over Artery, where no one thread moves the data.
   */
  public record Completed(String groupId, long sequence, float[] result, long transferNanos, long dataThreadCpuNanos)
      implements CollectiveOutcome {}

  /**
   * The collective did not finish; the buffer's content is undefined. {@code missingMember} is the
   * cluster address of the member blamed (absent when the request itself was invalid).
   */
  public record Failed(String groupId, long sequence, Optional<String> missingMember, String reason)
      implements CollectiveOutcome {}

  private record PeerMessageReceived(PeerMessage message) implements Command {}

  private record PeersListed(Receptionist.Listing listing) implements Command {}

  private record MemberChanged(ClusterEvent.MemberEvent event) implements Command {}

  private record DeadlinePassed(long sequence) implements Command {}

  private static final Object DEADLINE = "deadline";

  /** Receptionist key under which the members of group {@code groupId} find each other. */
  public static ServiceKey<PeerMessage> serviceKey(String groupId) {
    return ServiceKey.create(PeerMessage.class, "dsparse-collective-" + groupId);
  }

  /** Conventional child name for the group actor of {@code groupId}. */
  public static String actorName(String groupId) {
    return "process-group-" + groupId;
  }

  /** A group actor configured from {@code dsparse.collective} of the actor system. */
  public static Behavior<Command> create(GroupSpec spec) {
    return Behaviors.setup(context ->
        create(spec, CollectiveSettings.fromConfig(context.getSystem().settings().config())));
  }

  public static Behavior<Command> create(GroupSpec spec, CollectiveSettings settings) {
    // Peers address this actor as ActorRef<PeerMessage>: the funnel lets the same actor (so it can be
    // watched and registered directly) accept the wire protocol as well as its commands.
    Behavior<Object> funnel = Behaviors.transformMessages(Object.class,
        Behaviors.<Command>setup(context -> Behaviors.withTimers(timers ->
            new ProcessGroup(context, timers, spec, settings))),
        pf -> pf.match(Command.class, command -> command)
            .match(PeerMessage.class, PeerMessageReceived::new));
    return funnel.narrow();
  }

  private final TimerScheduler<Command> timers;
  private final GroupSpec spec;
  private final CollectiveSettings settings;
  private final int selfRank;
  private final ActorRef<PeerMessage> self;
  private final GroupPeers peers;
  private final ArrayDeque<CollectiveRequest> queue = new ArrayDeque<>();
  private final TreeMap<Long, Map<Integer, CollectiveStarted>> announcements = new TreeMap<>();
  private final TreeMap<Long, CollectiveAborted> abortsAhead = new TreeMap<>();
  private final EnumMap<ChunkRejection, Long> rejected = new EnumMap<>(ChunkRejection.class);
  private long completed;
  private long failed;
  private long lastRequested = Long.MIN_VALUE;
  private long lastFinished = Long.MIN_VALUE;
  private CollectiveRequest current;
  /** Whether the current collective was announced and handed to the data path. */
  private boolean begun;
  /** When the current collective had been started by every member (System.nanoTime), or 0. */
  private long allStartedAt;
  /** How this member moves the data: chosen once, by the transport setting. */
  private final DataPath path;

  private ProcessGroup(ActorContext<Command> context, TimerScheduler<Command> timers, GroupSpec spec,
      CollectiveSettings settings) {
    super(context);
    this.timers = timers;
    this.spec = spec;
    this.settings = settings;
    Cluster cluster = Cluster.get(context.getSystem());
    Address selfAddress = cluster.selfMember().address();
    this.selfRank = spec.rankOf(selfAddress);
    if (selfRank < 0) {
      throw new IllegalArgumentException("node " + selfAddress + " is not a member of process group "
          + spec.groupId() + " " + spec.members());
    }
    this.self = context.getSelf().unsafeUpcast();
    this.peers = new GroupPeers(spec, selfRank, self, cluster);
    ServiceKey<PeerMessage> key = serviceKey(spec.groupId());
    context.getSystem().receptionist().tell(Receptionist.register(key, self));
    context.getSystem().receptionist().tell(Receptionist.subscribe(key,
        context.messageAdapter(Receptionist.Listing.class, PeersListed::new)));
    cluster.subscriptions().tell(Subscribe.create(
        context.messageAdapter(ClusterEvent.MemberEvent.class, MemberChanged::new), ClusterEvent.MemberEvent.class));
    if (settings.transport() == CollectiveSettings.Transport.TCP && spec.size() > 1) {
      // Polling before blocking pays only while every member on this host can have a core of its own.
      long colocated = spec.members().stream().filter(m -> m.host().equals(selfAddress.host())).count();
      long pollNanos = colocated <= Runtime.getRuntime().availableProcessors()
          ? settings.pollBeforeBlocking().toNanos() : 0;
      this.path = new TcpDataPath(new PathGroup(), context.getSelf(), timers, settings,
          selfAddress.getHost().orElseThrow(), pollNanos, WireTraffic.get(context.getSystem()),
          org.dsparse.actors.tls.DataLinkTls.get(context.getSystem()).context().orElse(null));
    } else {
      this.path = new ArteryDataPath(new PathGroup(), settings.chunksInFlight());
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(AllReduce.class, this::onAllReduce)
        .onMessage(AllGather.class, this::onAllGather)
        .onMessage(Broadcast.class, this::onBroadcast)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(PeerMessageReceived.class, this::onPeerMessage)
        .onMessage(PeersListed.class, this::onPeersListed)
        .onMessage(MemberChanged.class, this::onMemberChanged)
        .onMessage(DeadlinePassed.class, this::onDeadlinePassed)
        .onMessage(DataPath.Event.class, this::onPathEvent)
        .onSignal(Terminated.class, this::onPeerTerminated)
        .onSignal(PostStop.class, this::onPostStop)
        .build();
  }

  // ---- requests ------------------------------------------------------------------------------

  private Behavior<Command> onAllReduce(AllReduce request) {
    CollectiveKind kind = request.op() == ReduceOp.SUM ? CollectiveKind.ALL_REDUCE_SUM : CollectiveKind.ALL_REDUCE_MEAN;
    if (request.partLengths().length > 0 && request.partLengths().length != spec.size()) {
      request.replyTo().tell(new Failed(spec.groupId(), request.sequence(), Optional.empty(),
          request.partLengths().length + " part lengths for group " + spec.groupId() + " of " + spec.size()));
      return this;
    }
    return enqueue(new CollectiveRequest(request.sequence(), kind, -1, request.buffer(), request.partLengths(),
        request.replyTo()));
  }

  private Behavior<Command> onAllGather(AllGather request) {
    if (request.buffer().length % spec.size() != 0) {
      request.replyTo().tell(new Failed(spec.groupId(), request.sequence(), Optional.empty(),
          "an AllGather of " + request.buffer().length + " floats does not split into " + spec.size()
              + " equal parts for group " + spec.groupId()));
      return this;
    }
    int[] parts = new int[spec.size()];
    java.util.Arrays.fill(parts, request.buffer().length / spec.size());
    return enqueue(new CollectiveRequest(request.sequence(), CollectiveKind.ALL_GATHER, -1, request.buffer(), parts,
        request.replyTo()));
  }

  private Behavior<Command> onBroadcast(Broadcast request) {
    if (request.ownerRank() < 0 || request.ownerRank() >= spec.size()) {
      request.replyTo().tell(new Failed(spec.groupId(), request.sequence(), Optional.empty(),
          "owner rank " + request.ownerRank() + " is outside group " + spec.groupId() + " of " + spec.size()));
      return this;
    }
    return enqueue(new CollectiveRequest(request.sequence(), CollectiveKind.BROADCAST, request.ownerRank(),
        request.buffer(), new int[0], request.replyTo()));
  }

  private Behavior<Command> enqueue(CollectiveRequest request) {
    if (request.sequence() <= lastRequested) {
      request.replyTo().tell(new Failed(spec.groupId(), request.sequence(), Optional.empty(),
          "sequence " + request.sequence() + " of group " + spec.groupId()
              + " is not greater than the previous request's " + lastRequested));
      return this;
    }
    lastRequested = request.sequence();
    queue.add(request);
    startNext();
    return this;
  }

  private void startNext() {
    while (current == null && !queue.isEmpty()) {
      CollectiveRequest request = queue.poll();
      int gone = peers.firstDeparted();
      if (gone >= 0) {
        reply(request, failure(request.sequence(), gone, "member " + spec.member(gone) + " "
            + peers.howDeparted(gone)));
        continue;
      }
      CollectiveAborted abort = abortsAhead.remove(request.sequence());
      if (abort != null) {
        reply(request, abortedBy(abort));
        failed++;
        lastFinished = request.sequence();
        path.abandoned(request.sequence());
        continue;
      }
      current = request;
      begun = false;
      allStartedAt = 0;
      timers.startSingleTimer(DEADLINE, new DeadlinePassed(request.sequence()), settings.deadline());
      beginIfPeersKnown();
    }
  }

  /** Notes the moment the last member started the current collective. */
  private void noteIfAllStarted() {
    if (current != null && begun && allStartedAt == 0
        && announcements.getOrDefault(current.sequence(), Map.of()).size() >= spec.size() - 1) {
      allStartedAt = System.nanoTime();
      path.allStarted(allStartedAt);
    }
  }

  /**
   * Starts the current collective once every member's group actor is known and the data path is
   * ready: announces it, checks that the members that already announced theirs agree, and hands
   * the data to the path.
   */
  private void beginIfPeersKnown() {
    if (current == null || begun || !peers.allKnown() || !path.ready()) {
      return;
    }
    CollectiveRequest request = current;
    begun = true;
    peers.tellOthers(new CollectiveStarted(spec.groupId(), request.sequence(), self, request.kind(),
        request.buffer().length, request.ownerRank()));
    noteIfAllStarted();
    for (CollectiveStarted other : announcements.getOrDefault(request.sequence(), Map.of()).values()) {
      if (!checkAgreement(other)) {
        return;
      }
    }
    path.begin(request.sequence(), request.kind(), request.buffer(),
        request.schedule(spec.size(), selfRank, settings.chunkFloats()), request::answer);
  }

  // ---- wire protocol -------------------------------------------------------------------------

  private Behavior<Command> onPeerMessage(PeerMessageReceived received) {
    PeerMessage message = received.message();
    if (!spec.groupId().equals(message.groupId())) {
      if (message instanceof Chunk chunk) {
        reject(chunk, ChunkRejection.FOREIGN_GROUP);
      } else {
        getContext().getLog().warn("group {} ignored {} addressed to group {} from {}", spec.groupId(),
            message.getClass().getSimpleName(), message.groupId(), message.from());
      }
      return this;
    }
    if (message instanceof Chunk chunk) {
      onChunk(chunk);
    } else if (message instanceof CollectiveStarted started) {
      onCollectiveStarted(started);
    } else if (message instanceof CollectiveAborted aborted) {
      onCollectiveAborted(aborted);
    } else {
      path.onPeerMessage(message); // credits, link offers
    }
    return this;
  }

  /** Refuses chunks from outside the group and of finished collectives; the path takes the rest. */
  private void onChunk(Chunk chunk) {
    if (peers.rankOf(chunk.from()) < 0) {
      reject(chunk, ChunkRejection.NON_MEMBER);
      return;
    }
    long sequence = chunk.sequence();
    if (sequence <= lastFinished || (current != null && sequence < current.sequence())) {
      reject(chunk, ChunkRejection.STALE_SEQUENCE);
      return;
    }
    path.onPeerMessage(chunk);
  }

  private void onCollectiveStarted(CollectiveStarted started) {
    int rank = peers.rankOf(started.from());
    if (rank < 0 || started.sequence() <= lastFinished) {
      return;
    }
    announcements.computeIfAbsent(started.sequence(), s -> new HashMap<>()).put(rank, started);
    noteIfAllStarted();
    if (begun && started.sequence() == current.sequence() && checkAgreement(started)) {
      madeProgress();
    }
  }

  /** Fails the current collective if {@code other} started a different one under the same number. */
  private boolean checkAgreement(CollectiveStarted other) {
    CollectiveRequest request = current;
    if (other.kind() == request.kind() && other.length() == request.buffer().length
        && other.ownerRank() == request.ownerRank()) {
      return true;
    }
    int rank = peers.rankOf(other.from());
    failCurrent(rank, "member " + spec.member(rank) + " started " + describe(other.kind(), other.length(),
        other.ownerRank()) + " as collective " + request.sequence() + " but this member started "
        + describe(request.kind(), request.buffer().length, request.ownerRank()), true);
    return false;
  }

  private void onCollectiveAborted(CollectiveAborted aborted) {
    if (peers.rankOf(aborted.from()) < 0 || aborted.sequence() <= lastFinished) {
      return;
    }
    if (current != null && aborted.sequence() == current.sequence()) {
      reply(current, abortedBy(aborted));
      finishCurrent(false);
    } else if (current == null || aborted.sequence() > current.sequence()) {
      abortsAhead.put(aborted.sequence(), aborted);
      if (current == null) {
        path.abandoned(aborted.sequence());
      }
    }
  }

  private void madeProgress() {
    timers.startSingleTimer(DEADLINE, new DeadlinePassed(current.sequence()), settings.deadline());
  }

  private Behavior<Command> onPathEvent(DataPath.Event event) {
    path.onEvent(event);
    return this;
  }

  private Behavior<Command> onPostStop(PostStop stop) {
    path.close();
    return this;
  }

  // ---- membership ----------------------------------------------------------------------------

  private Behavior<Command> onPeersListed(PeersListed listed) {
    peers.listed(listed.listing().getServiceInstances(serviceKey(spec.groupId())), getContext().getLog())
        .forEach((rank, ref) -> {
          getContext().watch(ref);
          path.peerKnown(rank);
        });
    beginIfPeersKnown();
    return this;
  }

  private Behavior<Command> onMemberChanged(MemberChanged changed) {
    String how = GroupPeers.departure(changed.event());
    if (how != null) {
      memberDeparted(changed.event().member().address(), how);
    }
    return this;
  }

  private Behavior<Command> onPeerTerminated(Terminated terminated) {
    memberDeparted(peers.addressOf(terminated.getRef()), "stopped its group actor");
    return this;
  }

  private void memberDeparted(Address address, String how) {
    int rank = peers.depart(address, how);
    if (rank < 0) {
      return;
    }
    if (current != null || !queue.isEmpty()) {
      getContext().getLog().warn("group {}: member {} {}", spec.groupId(), address, how);
    } else {
      // Idle: nothing fails yet (the next collective will, naming the member). A job that just ended
      // sees this when another device's node leaves before this device has stopped its groups.
      getContext().getLog().info("group {}: member {} {} (no collective running)", spec.groupId(), address, how);
    }
    if (current != null) {
      failCurrent(rank, "member " + address + " " + how, true);
    }
  }

  // ---- deadline ------------------------------------------------------------------------------

  private Behavior<Command> onDeadlinePassed(DeadlinePassed passed) {
    if (current == null || current.sequence() != passed.sequence()) {
      return this;
    }
    Duration deadline = settings.deadline();
    long idle = path.idleNanos();
    if (idle < deadline.toNanos()) {
      timers.startSingleTimer(DEADLINE, passed, deadline.minusNanos(idle));
      return this;
    }
    long sequence = current.sequence();
    int unknown = peers.firstUnknown();
    if (unknown >= 0) {
      failCurrent(unknown, "member " + spec.member(unknown) + " did not register process group " + spec.groupId()
          + " within " + deadline, true);
      return this;
    }
    Map<Integer, CollectiveStarted> started = announcements.getOrDefault(sequence, Map.of());
    for (int r = 0; r < spec.size(); r++) {
      if (r != selfRank && !started.containsKey(r)) {
        failCurrent(r, "member " + spec.member(r) + " did not start collective " + sequence + " within "
            + deadline, true);
        return this;
      }
    }
    int unreachable = peers.firstUnreachable();
    if (unreachable >= 0) {
      failCurrent(unreachable, "member " + spec.member(unreachable) + " is unreachable", true);
      return this;
    }
    int missingLink = path.missingLink();
    if (missingLink >= 0) {
      failCurrent(missingLink, "no data link with member " + spec.member(missingLink) + " within " + deadline, true);
      return this;
    }
    int suspect = !path.receivedEverything() ? peers.predecessorRank() : peers.successorRank();
    failCurrent(suspect, "no progress from member " + spec.member(suspect) + " for " + deadline + path.progress(),
        true);
    return this;
  }

  // ---- endings -------------------------------------------------------------------------------

  private void failCurrent(int blamedRank, String reason, boolean tellPeers) {
    CollectiveRequest request = current;
    String blamed = spec.member(blamedRank).toString();
    getContext().getLog().warn("group {} collective {} failed: {}", spec.groupId(), request.sequence(), reason);
    if (tellPeers) {
      peers.tellOthers(new CollectiveAborted(spec.groupId(), request.sequence(), self, blamed, reason));
    }
    reply(request, failure(request.sequence(), blamedRank, reason));
    finishCurrent(false);
  }

  private void finishCurrent(boolean succeeded) {
    if (succeeded) {
      completed++;
    } else {
      failed++;
    }
    lastFinished = current.sequence();
    current = null;
    begun = false;
    path.ended(lastFinished, succeeded);
    timers.cancel(DEADLINE);
    announcements.headMap(lastFinished, true).clear();
    abortsAhead.headMap(lastFinished, true).clear();
    startNext();
  }

  private Failed failure(long sequence, int blamedRank, String reason) {
    return new Failed(spec.groupId(), sequence, Optional.of(spec.member(blamedRank).toString()), reason);
  }

  private Failed abortedBy(CollectiveAborted aborted) {
    return new Failed(spec.groupId(), aborted.sequence(), Optional.of(aborted.missingMember()),
        "aborted by member " + peers.addressOf(aborted.from()) + ": " + aborted.reason());
  }

  private void reply(CollectiveRequest request, CollectiveOutcome outcome) {
    request.answer(outcome);
  }

  private Behavior<Command> onGetStats(GetStats request) {
    request.replyTo().tell(new GroupStats(spec.groupId(), Map.copyOf(rejected), completed, failed, path.endpoint()));
    return this;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private void reject(Chunk chunk, ChunkRejection reason) {
    rejected.merge(reason, 1L, Long::sum);
    getContext().getLog().warn("group {} rejected chunk ({}, seq {}, step {}, index {}) from {}: {}",
        spec.groupId(), chunk.groupId(), chunk.sequence(), chunk.step(), chunk.index(), chunk.from(), reason);
  }

  /** What the data path sees of this actor. */
  private final class PathGroup implements DataPath.Group {
    @Override
    public GroupSpec spec() {
      return spec;
    }

    @Override
    public int selfRank() {
      return selfRank;
    }

    @Override
    public ActorRef<PeerMessage> self() {
      return self;
    }

    @Override
    public ActorRef<PeerMessage> peer(int rank) {
      return peers.peer(rank);
    }

    @Override
    public int memberRankOf(ActorRef<PeerMessage> ref) {
      return peers.rankOf(ref);
    }

    @Override
    public boolean isRunning(long sequence) {
      return current != null && begun && current.sequence() == sequence;
    }

    @Override
    public long sinceAllStarted() {
      return allStartedAt == 0 ? 0 : System.nanoTime() - allStartedAt;
    }

    @Override
    public void progressed() {
      madeProgress();
    }

    @Override
    public void succeeded(Completed outcome) {
      reply(current, outcome);
      finishCurrent(true);
    }

    @Override
    public void failed(int blamedRank, String reason) {
      failCurrent(blamedRank, reason, true);
    }

    @Override
    public void readyAgain() {
      beginIfPeersKnown();
    }

    @Override
    public void rejected(Chunk chunk, ChunkRejection reason) {
      reject(chunk, reason);
    }

    @Override
    public void refusedConnection(String remote, String reason) {
      rejected.merge(ChunkRejection.NON_MEMBER, 1L, Long::sum);
      getContext().getLog().warn("group {} refused a data connection from {}: {}", spec.groupId(), remote, reason);
    }

    @Override
    public org.slf4j.Logger log() {
      return getContext().getLog();
    }
  }

  private static String describe(CollectiveKind kind, int length, int ownerRank) {
    return kind + " of " + length + " floats" + (kind == CollectiveKind.BROADCAST ? " from rank " + ownerRank : "");
  }
}
