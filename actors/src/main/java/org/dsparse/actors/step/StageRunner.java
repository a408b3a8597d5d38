package org.dsparse.actors.step;

import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * How every mode's pipeline runs its model work: each stage on {@link Compute}, one after another,
 * timed into its step's compute time, refused once the job abandoned the step ({@link #cancel}), and
 * failing with a {@link StageFailure} that names the stage. One per pipeline; {@link #step} gives a
 * step's own clock.
 */
public final class StageRunner {
  private final Compute compute;
  private volatile boolean cancelled;

  public StageRunner(Compute compute) {
    this.compute = compute;
  }

  /** Fails every stage not yet started: the job abandoned its step. */
  public void cancel() {
    cancelled = true;
  }

  /** A clock for one step's stages. Steps do not overlap, so one step's stages never race. */
  public Step step() {
    return new Step();
  }

  /** One step's stages and the compute time they took. */
  public final class Step {
    private long computeNanos;

    private Step() {}

    /**
     * Runs {@code work} as stage {@code stage}; its time, from when it is asked for to when it ends
     * (the model thread runs nothing else of the step meanwhile), counts as compute.
     */
    public <T> CompletionStage<T> compute(String stage, Callable<T> work) {
      long start = System.nanoTime();
      return compute.submit(stage, () -> {
        if (cancelled) {
          throw new CancellationException("the step was abandoned");
        }
        return work.call();
      }).handle((value, error) -> {
        if (error != null) {
          throw StageFailure.of(stage, error);
        }
        addCompute(System.nanoTime() - start);
        return value;
      });
    }

    /**
     * The model thread as an executor, for continuations of stage {@code stage} that collectives
     * answer (a tile group's exchanges): each runs as model work and counts as compute. Unlike
     * {@link #compute}, it runs them after a cancel too, so that the step's chain ends and frees its
     * tensors; the next exchange then fails, as the abandoned job's process groups are stopped.
     */
    public Executor modelThread(String stage) {
      return work -> compute.submit(stage, () -> {
        long start = System.nanoTime();
        work.run();
        addCompute(System.nanoTime() - start);
        return null;
      });
    }

    private synchronized void addCompute(long nanos) {
      computeNanos += nanos;
    }

    public synchronized long computeNanos() {
      return computeNanos;
    }
  }
}
