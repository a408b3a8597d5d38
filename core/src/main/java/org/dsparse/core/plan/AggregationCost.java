package org.dsparse.core.plan;

/**
 * Predicted aggregation time of one training step.
 *
 * @param collectiveSeconds the AllReduces, with groups of disjoint members running concurrently and
 *     groups that share a device running one after another
 * @param refreshSeconds the refresh broadcasts to non-updaters, amortised over the refresh interval
 */
public record AggregationCost(double collectiveSeconds, double refreshSeconds) {
  public double totalSeconds() {
    return collectiveSeconds + refreshSeconds;
  }
}
