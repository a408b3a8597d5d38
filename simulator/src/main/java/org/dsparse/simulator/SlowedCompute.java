package org.dsparse.simulator;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.dsparse.actors.step.Compute;

/**
 * A device slower than the machine it is simulated on: each task of its steps' model work runs at
 * this machine's speed, then completes only after {@code factor} times its own duration. The extra
 * time is waited out off the DJL thread, so that devices sharing a JVM are not held up by it.
 */
final class SlowedCompute implements Compute {
  private final Compute inner;
  private final double factor;

  SlowedCompute(Compute inner, double factor) {
    if (!(factor >= 1)) {
      throw new IllegalArgumentException("a compute slowdown must be at least 1, got " + factor);
    }
    this.inner = inner;
    this.factor = factor;
  }

  /** {@code compute} itself when {@code factor} is 1, else slowed by it. */
  static Compute of(Compute compute, double factor) {
    return factor == 1 ? compute : new SlowedCompute(compute, factor);
  }

  @Override
  public <T> CompletionStage<T> submit(Callable<T> work) {
    CompletableFuture<T> slowed = new CompletableFuture<>();
    inner.submit(() -> {
      long start = System.nanoTime();
      T value = work.call();
      return new Timed<>(value, System.nanoTime() - start);
    }).whenComplete((timed, error) -> {
      if (error != null) {
        slowed.completeExceptionally(error);
        return;
      }
      long extra = (long) ((factor - 1) * timed.nanos());
      CompletableFuture.delayedExecutor(extra, TimeUnit.NANOSECONDS).execute(() -> slowed.complete(timed.value()));
    });
    return slowed;
  }

  private record Timed<T>(T value, long nanos) {}
}
