package org.dsparse.actors.mode.tiles;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.dsparse.actors.collective.Collectives;
import org.dsparse.training.tiling.TileExchange;

/**
 * A tile group's exchanges over its process group: sums as its ring AllReduce, gathers as its ring
 * AllGather (every part padded to the longest, which the geometry tells every member), the head's
 * broadcast as its chain Broadcast from the leader. So every wait has the group's deadlines, and a
 * member that is lost fails the step naming it.
 *
 * <p>Halos, the gathered output and its gradient go point to point ({@link #swap}): each pair of
 * members has a process group of its own ({@link #pairId}), where a swap both ways is one AllGather
 * of two parts (each padded to the longer), one way a broadcast from the sender, either one round on
 * one link; a member swaps with the members it sends to or hears from only, all pairs at once. BatchNorm's statistics, which every member needs from every
 * other, stay on the tile group's ring.
 */
public final class TileGroupExchange implements TileExchange {
  private final Collectives collectives;
  private final String group;
  private final int rank;
  private final int members;
  private final AtomicLong sequence;
  private final AtomicLong calls = new AtomicLong();

  /**
   * @param sequence the group's collective sequence, the same on every member (each call takes the
   *     next number)
   */
  public TileGroupExchange(Collectives collectives, String group, int rank, int members, AtomicLong sequence) {
    if (rank < 0 || rank >= members) {
      throw new IllegalArgumentException("rank " + rank + " outside a tile group of " + members);
    }
    this.collectives = collectives;
    this.group = group;
    this.rank = rank;
    this.members = members;
    this.sequence = sequence;
  }

  /** Collectives this member has run (each a round of ring latency on the tile group's links). */
  public long calls() {
    return calls.get();
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int members() {
    return members;
  }

  @Override
  public CompletionStage<float[]> sum(float[] local) {
    return collectives.sum(group, next(), local.clone()).thenApply(Collectives.Transfer::result);
  }

  @Override
  public CompletionStage<List<float[]>> gather(float[] local, int[] lengths) {
    if (lengths.length != members || lengths[rank] != local.length) {
      throw new IllegalArgumentException("member " + rank + " of group " + group + " gathers " + local.length
          + " floats, announced " + Arrays.toString(lengths));
    }
    int part = Arrays.stream(lengths).max().orElse(0);
    if (part == 0) {
      // Every member knows every length: all skip the collective together.
      List<float[]> none = new ArrayList<>();
      for (int u = 0; u < members; u++) {
        none.add(new float[0]);
      }
      return CompletableFuture.completedFuture(none);
    }
    float[] buffer = new float[part * members];
    System.arraycopy(local, 0, buffer, rank * part, local.length);
    return collectives.allGather(group, next(), buffer).thenApply(done -> {
      List<float[]> parts = new ArrayList<>();
      for (int u = 0; u < members; u++) {
        parts.add(Arrays.copyOfRange(done.result(), u * part, u * part + lengths[u]));
      }
      return parts;
    });
  }

  /** The process group of members {@code a} and {@code b} of the tile group {@code group}. */
  public static String pairId(String group, int a, int b) {
    return group + ".p" + Math.min(a, b) + "-" + Math.max(a, b);
  }

  @Override
  public CompletionStage<List<float[]>> swap(float[][] toEach, int[][] lengths) {
    long sequence = next();
    List<CompletableFuture<float[]>> received = new ArrayList<>();
    for (int u = 0; u < members; u++) {
      int out = lengths[rank][u];
      int in = lengths[u][rank];
      if (u == rank || (out == 0 && in == 0)) {
        received.add(CompletableFuture.completedFuture(new float[0]));
        continue;
      }
      if (toEach[u].length != out) {
        throw new IllegalArgumentException("member " + rank + " of group " + group + " sends member " + u + " "
            + toEach[u].length + " floats, announced " + out);
      }
      int mine = rank < u ? 0 : 1;
      String pair = pairId(group, rank, u);
      if (in == 0) {
        // One way: the pair's broadcast from this member, no padding back.
        received.add(collectives.broadcast(pair, sequence, mine, toEach[u], out)
            .thenApply(done -> new float[0]).toCompletableFuture());
        continue;
      }
      if (out == 0) {
        received.add(collectives.broadcast(pair, sequence, 1 - mine, null, in)
            .thenApply(Collectives.Transfer::result).toCompletableFuture());
        continue;
      }
      int part = Math.max(out, in);
      float[] buffer = new float[2 * part];
      System.arraycopy(toEach[u], 0, buffer, mine * part, out);
      int from = (1 - mine) * part;
      received.add(collectives.allGather(pair, sequence, buffer)
          .thenApply(done -> Arrays.copyOfRange(done.result(), from, from + in)).toCompletableFuture());
    }
    return CompletableFuture.allOf(received.toArray(new CompletableFuture[0]))
        .thenApply(all -> received.stream().map(CompletableFuture::join).toList());
  }

  private long next() {
    calls.incrementAndGet();
    return sequence.incrementAndGet();
  }

  @Override
  public CompletionStage<float[]> broadcast(int root, float[] data, int length) {
    if (root != 0) {
      throw new IllegalArgumentException("group " + group + " broadcasts from its leader, rank 0, not " + root);
    }
    return collectives.broadcast(group, next(), rank == 0 ? data : null, length)
        .thenApply(Collectives.Transfer::result);
  }
}
