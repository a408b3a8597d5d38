package org.dsparse.core.cli;

/** A user's mistake on the command line or in a config: printed as a message, never as a stack trace. */
public final class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
