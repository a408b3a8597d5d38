package org.dsparse.actors.collective;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.protocol.collective.PeerMessage;
import org.slf4j.Logger;

/**
 * The members of a process group as one member's {@link ProcessGroup} actor knows them: each rank's
 * group actor once the receptionist lists it, and the members that departed (left the cluster or
 * stopped their group actor), after which every collective of the group fails.
 */
final class GroupPeers {
  private final GroupSpec spec;
  private final int selfRank;
  private final Cluster cluster;
  /** Each rank's group actor, null until listed; this member's own from the start. */
  private final List<ActorRef<PeerMessage>> actors = new ArrayList<>();
  /** How each departed member went, by rank. */
  private final Map<Integer, String> departed = new TreeMap<>();

  GroupPeers(GroupSpec spec, int selfRank, ActorRef<PeerMessage> self, Cluster cluster) {
    this.spec = spec;
    this.selfRank = selfRank;
    this.cluster = cluster;
    for (int r = 0; r < spec.size(); r++) {
      actors.add(r == selfRank ? self : null);
    }
  }

  /** Whether every member's group actor is known. */
  boolean allKnown() {
    return !actors.contains(null);
  }

  /** The lowest rank whose group actor is not known yet; -1 when all are. */
  int firstUnknown() {
    return actors.indexOf(null);
  }

  /** The group actor of {@code rank} to send to; null before it is known and after it departed. */
  ActorRef<PeerMessage> peer(int rank) {
    return departed.containsKey(rank) ? null : actors.get(rank);
  }

  /**
   * Takes the receptionist's listing of the group's actors; answers those it names for the first
   * time, by rank. A member's actor listed again under another reference is not taken: the first
   * one stays.
   */
  Map<Integer, ActorRef<PeerMessage>> listed(Set<ActorRef<PeerMessage>> refs, Logger log) {
    Map<Integer, ActorRef<PeerMessage>> known = new LinkedHashMap<>();
    for (ActorRef<PeerMessage> ref : refs) {
      int rank = spec.rankOf(addressOf(ref));
      if (rank < 0 || rank == selfRank || ref.equals(actors.get(rank))) {
        continue;
      }
      if (actors.get(rank) != null) {
        log.warn("group {}: member {} re-registered as {}; keeping {}", spec.groupId(), spec.member(rank), ref,
            actors.get(rank));
        continue;
      }
      actors.set(rank, ref);
      known.put(rank, ref);
    }
    return known;
  }

  /**
   * Rank of the member whose group actor {@code ref} is; -1 for anything else. Before the listing
   * names a member's actor, any actor at that member's address is taken as it, since Artery
   * delivers peers' first messages before the receptionist's gossip.
   */
  int rankOf(ActorRef<PeerMessage> ref) {
    int rank = spec.rankOf(addressOf(ref));
    if (rank < 0) {
      return -1;
    }
    ActorRef<PeerMessage> known = actors.get(rank);
    return known == null || known.equals(ref) ? rank : -1;
  }

  /** How a cluster event's member departed; null when the event is no departure. */
  static String departure(ClusterEvent.MemberEvent event) {
    if (event instanceof ClusterEvent.MemberLeft) {
      return "left the cluster";
    } else if (event instanceof ClusterEvent.MemberExited) {
      return "exited the cluster";
    } else if (event instanceof ClusterEvent.MemberDowned) {
      return "was downed";
    } else if (event instanceof ClusterEvent.MemberRemoved) {
      return "was removed from the cluster";
    }
    return null;
  }

  /**
   * The member at {@code address} departed ({@code how}): answers its rank, or -1 when that is no
   * news (not another member, departed before, or this node is leaving too).
   */
  int depart(Address address, String how) {
    int rank = spec.rankOf(address);
    if (rank < 0 || rank == selfRank || departed.containsKey(rank) || selfIsLeaving()) {
      return -1;
    }
    departed.put(rank, how);
    return rank;
  }

  /** The lowest departed rank, which a collective asked for now fails naming; -1 when none departed. */
  int firstDeparted() {
    return departed.isEmpty() ? -1 : departed.keySet().iterator().next();
  }

  /** How {@code rank} departed. */
  String howDeparted(int rank) {
    return departed.get(rank);
  }

  /** The lowest rank of a member the cluster sees as unreachable; -1 when none is. */
  int firstUnreachable() {
    TreeSet<Integer> unreachable = new TreeSet<>();
    for (Member member : cluster.state().getUnreachable()) {
      int rank = spec.rankOf(member.address());
      if (rank >= 0) {
        unreachable.add(rank);
      }
    }
    return unreachable.isEmpty() ? -1 : unreachable.first();
  }

  /** Sends {@code message} to every other member whose actor is known and that has not departed. */
  void tellOthers(PeerMessage message) {
    for (int r = 0; r < spec.size(); r++) {
      ActorRef<PeerMessage> peer = actors.get(r);
      if (r != selfRank && peer != null && !departed.containsKey(r)) {
        peer.tell(message);
      }
    }
  }

  int predecessorRank() {
    return (selfRank + spec.size() - 1) % spec.size();
  }

  int successorRank() {
    return (selfRank + 1) % spec.size();
  }

  Address addressOf(ActorRef<?> ref) {
    Address address = ref.path().address();
    return address.hasGlobalScope() ? address : cluster.selfMember().address();
  }

  /** While this node shuts down it sees everyone else go; that says nothing about them. */
  private boolean selfIsLeaving() {
    MemberStatus status = cluster.selfMember().status();
    return status != MemberStatus.up() && status != MemberStatus.weaklyUp() && status != MemberStatus.joining();
  }
}
