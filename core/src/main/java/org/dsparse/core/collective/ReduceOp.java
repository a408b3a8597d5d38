package org.dsparse.core.collective;

/** How AllReduce combines the members' buffers. */
public enum ReduceOp {
  /** Element-wise sum. */
  SUM,
  /** Element-wise sum divided by the member count (division, not multiplication by 1/N, so integer sums stay exact). */
  MEAN
}
