package org.dsparse.protocol.collective;

/** Which collective a member started; all members of one sequence number must agree. */
public enum CollectiveKind {
  ALL_REDUCE_SUM,
  ALL_REDUCE_MEAN,
  BROADCAST,
  /** Each member's part to every member, copied (new kinds go last: the wire carries the ordinal). */
  ALL_GATHER
}
