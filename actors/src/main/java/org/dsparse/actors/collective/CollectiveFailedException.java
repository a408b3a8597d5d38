package org.dsparse.actors.collective;

import java.util.Optional;

/** A collective did not complete; {@link #missingMember()} is the cluster address blamed, if any. */
public final class CollectiveFailedException extends Exception {
  private final String missingMember;

  CollectiveFailedException(String message, String missingMember, Throwable cause) {
    super(message, cause);
    this.missingMember = missingMember;
  }

  public Optional<String> missingMember() {
    return Optional.ofNullable(missingMember);
  }
}
