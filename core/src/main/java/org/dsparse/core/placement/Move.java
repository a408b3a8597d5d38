package org.dsparse.core.placement;

/** A shard to hand off from one device to another, and why. */
public record Move(String groupId, String from, String to, Reason reason) {
  /** Why a shard moves, in the order {@link Placement#rebalance} considers them. */
  public enum Reason {
    /** Its home is no longer among the devices. */
    HOME_GONE,
    /** Its home hosts more than its budget allows. */
    HOME_OVER_BUDGET,
    /** Its home is not one of its updaters while an updater has room for it. */
    UPDATER_HAS_ROOM
  }
}
