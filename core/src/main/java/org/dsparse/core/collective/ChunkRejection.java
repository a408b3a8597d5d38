package org.dsparse.core.collective;

/** Why a process group refused a chunk instead of applying it. */
public enum ChunkRejection {
  /** Addressed to another group id. */
  FOREIGN_GROUP,
  /** Sent by an actor that is not the group member the schedule receives from. */
  NON_MEMBER,
  /** Belongs to a collective that has already finished or failed here. */
  STALE_SEQUENCE,
  /** Same (sequence, step, chunk) already applied. */
  DUPLICATE,
  /** A step or chunk index this rank never receives in this collective. */
  OUT_OF_SCHEDULE,
  /** Payload length differs from the region the schedule assigns to it. */
  WRONG_LENGTH,
  /** Ahead of the local collective and the early-arrival buffer is full. */
  TOO_EARLY
}
