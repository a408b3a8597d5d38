package org.dsparse.protocol.job;

/**
 * What a step sends to the devices that do not update a group's layers: nothing, the change since
 * their copy compressed ({@code JobSpec.RefreshCompression}), or the weights exactly (after which
 * every device holds every layer as it stands, and the step can be committed).
 */
public enum Refresh {
  NONE, COMPRESSED, EXACT;

  /** Whether the step refreshes at all. */
  public boolean any() {
    return this != NONE;
  }

  /** An exact refresh when {@code refresh}, else none (a job without refresh compression). */
  public static Refresh exactIf(boolean refresh) {
    return refresh ? EXACT : NONE;
  }
}
