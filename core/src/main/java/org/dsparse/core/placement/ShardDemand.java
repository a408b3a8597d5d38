package org.dsparse.core.placement;

import java.util.HashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What a fused layer group's shard needs from its home: room for the group's weights, and the
 * group's updaters in the plan's order, which are the preferred homes.
 *
 * @param groupId the group's id, also its shard and entity id (letters, digits, {@code _ . : -})
 * @param weightBytes bytes of the group's weights, which the home keeps in memory
 * @param preferredDevices the group's updaters, most preferred first; may be empty
 */
public record ShardDemand(String groupId, long weightBytes, List<String> preferredDevices) {
  private static final Pattern GROUP_ID = Pattern.compile("[A-Za-z0-9_.:-]+");

  public ShardDemand {
    checkGroupId(groupId);
    if (weightBytes < 0) {
      throw new IllegalArgumentException("group " + groupId + ": weight bytes must not be negative, got "
          + weightBytes);
    }
    preferredDevices = List.copyOf(preferredDevices);
    if (new HashSet<>(preferredDevices).size() != preferredDevices.size()) {
      throw new IllegalArgumentException("group " + groupId + ": preferred devices repeat a device: "
          + preferredDevices);
    }
  }

  /** Checks that {@code groupId} can serve as a shard and entity id. */
  public static void checkGroupId(String groupId) {
    if (groupId == null || !GROUP_ID.matcher(groupId).matches()) {
      throw new IllegalArgumentException("invalid group id '" + groupId
          + "': use letters, digits and _ . : - only");
    }
  }

  /** A group about which nothing is known but its id: it needs no room and prefers no device. */
  public static ShardDemand unknown(String groupId) {
    return new ShardDemand(groupId, 0, List.of());
  }

  public boolean prefers(String device) {
    return preferredDevices.contains(device);
  }
}
