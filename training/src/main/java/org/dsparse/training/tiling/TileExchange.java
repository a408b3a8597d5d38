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

  /**
   * Point to point: {@code toEach[u]} goes to member {@code u} alone, and what every member sent this
   * one comes back in rank order (empty from a member that sent it nothing). {@code lengths[s][u]} is
   * what member {@code s} sends member {@code u}, which the geometry tells every member. A member
   * exchanges with the members it sends to or hears from, no other: a tile's halo goes to the tiles
   * that read it. This default carries it on {@link #gather}, every member's parts to every member.
   */
  default CompletionStage<List<float[]>> swap(float[][] toEach, int[][] lengths) {
    int members = members();
    int[] packed = new int[members];
    for (int s = 0; s < members; s++) {
      for (int u = 0; u < members; u++) {
        packed[s] += lengths[s][u];
      }
    }
    float[] mine = new float[packed[rank()]];
    int at = 0;
    for (int u = 0; u < members; u++) {
      System.arraycopy(toEach[u], 0, mine, at, lengths[rank()][u]);
      at += lengths[rank()][u];
    }
    return gather(mine, packed).thenApply(all -> {
      List<float[]> received = new java.util.ArrayList<>();
      for (int s = 0; s < members; s++) {
        int offset = 0;
        for (int u = 0; u < rank(); u++) {
          offset += lengths[s][u];
        }
        received.add(java.util.Arrays.copyOfRange(all.get(s), offset, offset + lengths[s][rank()]));
      }
      return received;
    });
  }

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
