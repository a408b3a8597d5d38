package org.dsparse.actors.collective;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import org.apache.pekko.actor.Address;

/**
 * A process group: its id and its members' cluster addresses in rank order. Every member must
 * create its group actor from an equal spec; ranks are positions in {@code members}.
 */
public record GroupSpec(String groupId, List<Address> members) {
  public GroupSpec {
    Objects.requireNonNull(groupId, "groupId");
    if (groupId.isBlank() || !groupId.matches("[A-Za-z0-9_.:-]+")) {
      throw new IllegalArgumentException("group id must be non-empty and use only letters, digits, '_', '.', ':', '-'"
          + ", was [" + groupId + "]");
    }
    members = List.copyOf(members);
    if (members.isEmpty()) {
      throw new IllegalArgumentException("group " + groupId + " has no members");
    }
    if (new HashSet<>(members).size() != members.size()) {
      throw new IllegalArgumentException("group " + groupId + " lists a member twice: " + members);
    }
    for (Address member : members) {
      if (member.host().isEmpty() || member.port().isEmpty()) {
        throw new IllegalArgumentException("group " + groupId + " member " + member
            + " is not a remote cluster address (host and port required)");
      }
    }
  }

  public int size() {
    return members.size();
  }

  /** Rank of {@code member}, or -1 when it is not in the group. */
  public int rankOf(Address member) {
    return members.indexOf(member);
  }

  public Address member(int rank) {
    return members.get(rank);
  }
}
