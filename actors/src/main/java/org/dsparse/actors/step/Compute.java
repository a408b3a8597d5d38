package org.dsparse.actors.step;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import org.dsparse.training.trainer.DjlThread;

/**
 * Where a step's model work runs: on the JVM's DJL thread, one task after another. The simulator
 * wraps it to make a device slower than the machine it runs on.
 */
public interface Compute {
  <T> CompletionStage<T> submit(Callable<T> work);

  /** {@link #submit(Callable)} for a named stage of a step (tests stop a device at a given stage). */
  default <T> CompletionStage<T> submit(String stage, Callable<T> work) {
    return submit(work);
  }

  /** Runs the work on the {@link DjlThread}. */
  Compute DJL_THREAD = new Compute() {
    @Override
    public <T> CompletionStage<T> submit(Callable<T> work) {
      return DjlThread.submit(work);
    }
  };
}
