package org.dsparse.core.compression;

import java.util.Arrays;

/**
 * A Count-Sketch of a float vector: {@code rows} rows of {@code columns} counters. Row {@code j}
 * adds {@code sign_j(i) * v[i]} to counter {@code bucket_j(i)}; the estimate of {@code v[i]} is the
 * median over rows of {@code sign_j(i) * table[j][bucket_j(i)]}, off by at most about
 * {@code ||v_tail||_2 / sqrt(columns)} with a probability that grows with the rows.
 *
 * <p>Buckets and signs are hashed from (seed, row, index) when needed, not stored: a stored table
 * would cost {@code rows * d} ints, far more than the sketch saves on a small device. Members that
 * share a seed share the hashes, so sketches are linear across members: the sum of their tables
 * (what an AllReduce computes) is the sketch of the sum of their vectors. The table is a plain
 * float array in row order, which is what travels.
 *
 * <p>Sketching and estimating allocate nothing; {@link #heavyHitters} allocates its answer.
 */
public final class CountSketch {
  private final int rows;
  private final int columns;
  private final long seed;
  private final float[] table;
  /** One estimate per row, reused by {@link #estimate}. */
  private final float[] perRow;

  public CountSketch(int rows, int columns, long seed) {
    this(rows, columns, seed, null);
  }

  /** A sketch over {@code table} (rows times columns counters, row after row), e.g. one an AllReduce summed. */
  public static CountSketch over(float[] table, int rows, int columns, long seed) {
    if (table.length != (long) rows * columns) {
      throw new IllegalArgumentException("a " + rows + " x " + columns + " sketch has " + (long) rows * columns
          + " counters, not " + table.length);
    }
    return new CountSketch(rows, columns, seed, table);
  }

  private CountSketch(int rows, int columns, long seed, float[] table) {
    if (rows < 1 || rows > 15 || columns < 1 || (long) rows * columns > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("a count sketch needs 1 to 15 rows and at least one column, got "
          + rows + " x " + columns);
    }
    this.rows = rows;
    this.columns = columns;
    this.seed = seed;
    this.table = table != null ? table : new float[rows * columns];
    this.perRow = new float[rows];
  }

  public int rows() {
    return rows;
  }

  public int columns() {
    return columns;
  }

  /** The counters, row after row: what an AllReduce sums. Live: changes to it change the sketch. */
  public float[] table() {
    return table;
  }

  /** Clears every counter. */
  public void clear() {
    Arrays.fill(table, 0f);
  }

  /** Adds {@code values[from .. from+length)} as the coordinates {@code firstIndex ..} of the vector. */
  public void add(float[] values, int from, int length, long firstIndex) {
    for (int j = 0; j < rows; j++) {
      int rowStart = j * columns;
      long rowSeed = rowSeed(j);
      for (int k = 0; k < length; k++) {
        float v = values[from + k];
        if (v != 0f) {
          long h = mix(rowSeed + firstIndex + k);
          int bucket = bucket(h);
          table[rowStart + bucket] += (h < 0 ? -v : v);
        }
      }
    }
  }

  /** Adds another sketch of the same shape and seed: the sketch of the sum. */
  public void merge(CountSketch other) {
    if (other.rows != rows || other.columns != columns || other.seed != seed) {
      throw new IllegalArgumentException("cannot merge a " + other.rows + " x " + other.columns + " sketch (seed "
          + other.seed + ") into a " + rows + " x " + columns + " one (seed " + seed + ")");
    }
    for (int i = 0; i < table.length; i++) {
      table[i] += other.table[i];
    }
  }

  /** The estimate of coordinate {@code index}: the median of the rows' signed counters. */
  public float estimate(long index) {
    for (int j = 0; j < rows; j++) {
      long h = mix(rowSeed(j) + index);
      float counter = table[j * columns + bucket(h)];
      perRow[j] = h < 0 ? -counter : counter;
    }
    return median(perRow, rows);
  }

  /**
   * The {@code k} coordinates of {@code [0, dimension)} with the largest estimated magnitude, in
   * ascending index order; ties go to the lower index, so members holding the same table pick the
   * same set.
   */
  public int[] heavyHitters(int k, long dimension) {
    TopK top = new TopK((int) Math.min(k, dimension));
    for (long i = 0; i < dimension; i++) {
      top.offer(Math.abs(estimate(i)), (int) i);
    }
    return top.indices();
  }

  private long rowSeed(int row) {
    return mix(seed * 0x9E3779B97F4A7C15L + row + 1) << 32;
  }

  /** The bucket from a hash's low bits; its sign is the hash's top bit. */
  private int bucket(long hash) {
    return (int) (((hash & 0xFFFF_FFFFL) * columns) >>> 32);
  }

  /** SplitMix64's finalizer: every input bit reaches every output bit. */
  public static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Median of {@code values[0..n)} (sorted in place; n is at most 15): the mean of the middle two when even. */
  private static float median(float[] values, int n) {
    for (int i = 1; i < n; i++) {
      float v = values[i];
      int j = i - 1;
      while (j >= 0 && values[j] > v) {
        values[j + 1] = values[j];
        j--;
      }
      values[j + 1] = v;
    }
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }
}
