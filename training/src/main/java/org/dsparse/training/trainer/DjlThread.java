package org.dsparse.training.trainer;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The one thread of this JVM that touches DJL. Work submitted from any thread runs there in order;
 * work already on it runs inline. Simulated devices sharing a JVM therefore take turns.
 */
public final class DjlThread {
  private static volatile Thread thread;
  private static final ExecutorService EXECUTOR = Executors.newSingleThreadExecutor(runnable -> {
    Thread t = new Thread(runnable, "dsparse-djl");
    t.setDaemon(true);
    thread = t;
    return t;
  });

  private DjlThread() {}

  /** A piece of DJL work that may throw. */
  @FunctionalInterface
  public interface Work {
    void run() throws Exception;
  }

  public static boolean isCurrent() {
    return Thread.currentThread() == thread;
  }

  /** Fails fast when DJL is touched from the wrong thread, instead of corrupting grad mode. */
  public static void checkCurrent() {
    if (!isCurrent()) {
      throw new IllegalStateException("DJL work must run on the dsparse-djl thread (DjlThread.call), "
          + "not on " + Thread.currentThread().getName());
    }
  }

  /** Runs {@code work} on the DJL thread and returns its result; its exceptions reach the caller. */
  public static <T> T call(Callable<T> work) {
    if (isCurrent()) {
      try {
        return work.call();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }
    Future<T> future = EXECUTOR.submit(work);
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      future.cancel(true);
      throw new IllegalStateException("interrupted while waiting for DJL work", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(cause.getMessage(), cause);
    }
  }

  /** Queues {@code work} on the DJL thread; the future completes with its result or exception. */
  public static <T> java.util.concurrent.CompletableFuture<T> submit(Callable<T> work) {
    java.util.concurrent.CompletableFuture<T> result = new java.util.concurrent.CompletableFuture<>();
    EXECUTOR.execute(() -> {
      try {
        result.complete(work.call());
      } catch (Throwable t) {
        result.completeExceptionally(t);
      }
    });
    return result;
  }

  /** Runs {@code work} on the DJL thread and waits for it. */
  public static void run(Work work) {
    call(() -> {
      work.run();
      return null;
    });
  }
}
