package org.dsparse.training.tiling;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What a tile group's members exchange during a tiled step, each call made by every member in the
 * same order: the group's collectives (a sum, a gather, a broadcast), whatever carries them. Every
 * wait has the transport's deadline; a failure names the member that caused it.
 */
public interface TileExchange {
  /** This member's place in the tile group: it computes tile {@code rank()}. */
  int rank();

  int members();

  /** The element-wise sum of every member's {@code local} (all the same length). */
  CompletionStage<float[]> sum(float[] local);

  /**
   * Every member's {@code local}, in rank order; {@code lengths} is every member's length (which the
   * geometry tells each of them), so that the transport knows what to expect.
   */
  CompletionStage<List<float[]>> gather(float[] local, int[] lengths);

  /** Member {@code root}'s {@code data} (the others pass null and the length to expect). */
  CompletionStage<float[]> broadcast(int root, float[] data, int length);

  /** A tile group of one: every exchange answers this member's own data (one tile: no halo, no sums). */
  static TileExchange alone() {
    return new TileExchange() {
      @Override
      public int rank() {
        return 0;
      }

      @Override
      public int members() {
        return 1;
      }

      @Override
      public CompletionStage<float[]> sum(float[] local) {
        return CompletableFuture.completedFuture(local.clone());
      }

      @Override
      public CompletionStage<List<float[]>> gather(float[] local, int[] lengths) {
        return CompletableFuture.completedFuture(List.of(local.clone()));
      }

      @Override
      public CompletionStage<float[]> broadcast(int root, float[] data, int length) {
        return CompletableFuture.completedFuture(data.clone());
      }
    };
  }
}
