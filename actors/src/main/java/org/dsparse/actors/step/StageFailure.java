package org.dsparse.actors.step;

/** A stage of a step failed; the message says which and why. */
public final class StageFailure extends RuntimeException {
  public StageFailure(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Stage {@code stage}'s failure with {@code error}: the failure itself when it is already a stage's
   * (a step's continuation that failed names its own stage).
   */
  public static StageFailure of(String stage, Throwable error) {
    Throwable cause = unwrapped(error);
    return cause instanceof StageFailure failure ? failure
        : new StageFailure(stage + " failed: " + message(error), error);
  }

  private static Throwable unwrapped(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof java.util.concurrent.CompletionException
        || cause instanceof java.util.concurrent.ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** The innermost message of a failure, without the future machinery's wrappers. */
  public static String message(Throwable error) {
    Throwable cause = unwrapped(error);
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }
}
