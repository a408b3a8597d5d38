package org.dsparse.actors.job;

import org.apache.pekko.cluster.ClusterEvent;

/** What a cluster event means to a job: which node changed, how, and whether it is lost to the job. */
final class ClusterChanges {
  private ClusterChanges() {}

  /**
   * A member's change.
   *
   * @param lost the node became unreachable or is leaving
   */
  record Change(String address, String how, boolean lost) {}

  static Change of(Object event) {
    if (event instanceof ClusterEvent.UnreachableMember u) {
      return new Change(u.member().address().toString(), "became unreachable", true);
    }
    if (event instanceof ClusterEvent.ReachableMember r) {
      return new Change(r.member().address().toString(), "is reachable again", false);
    }
    if (event instanceof ClusterEvent.MemberLeft || event instanceof ClusterEvent.MemberExited
        || event instanceof ClusterEvent.MemberDowned || event instanceof ClusterEvent.MemberRemoved) {
      ClusterEvent.MemberEvent member = (ClusterEvent.MemberEvent) event;
      String how = event instanceof ClusterEvent.MemberRemoved ? "was removed from the cluster"
          : event instanceof ClusterEvent.MemberDowned ? "was downed" : "left the cluster";
      return new Change(member.member().address().toString(), how, true);
    }
    String address = event instanceof ClusterEvent.MemberEvent m ? m.member().address().toString() : "";
    return new Change(address, "changed", false);
  }
}
