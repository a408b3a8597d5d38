package org.dsparse.core.collective;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where every device cuts its backward on each step of a job, so that the members of a group
 * AllReduce the same segments: no cut (no overlap), the same fixed cuts every step, or cuts chosen
 * from what the steps measure ({@link DynamicDecomposition}).
 */
public interface OverlapScheduler {

  /** Ascending layer indices at which the devices cut the backward of the job's step {@code step}. */
  List<Integer> cutsFor(long step);

  /**
   * Takes what every device measured in step {@code step}, cut at {@link #cutsFor}; answers a line
   * saying what changed when the cuts of later steps change.
   */
  Optional<String> observe(long step, Map<String, SegmentTimes> measured);

  /** The same cuts every step (none: no overlap). */
  static OverlapScheduler fixed(List<Integer> cuts) {
    List<Integer> copy = List.copyOf(cuts);
    return new OverlapScheduler() {
      @Override
      public List<Integer> cutsFor(long step) {
        return copy;
      }

      @Override
      public Optional<String> observe(long step, Map<String, SegmentTimes> measured) {
        return Optional.empty();
      }
    };
  }

  /**
   * What one device measured of one step's segments, lowest segment first.
   *
   * @param cuts where the step's backward was cut
   * @param backwardSeconds each segment's backward, its gradients' hand-over to the collectives
   *     included
   * @param bytes each segment's AllReduce payload on this device (0: the segment sent nothing)
   * @param transferSeconds each segment's AllReduce time, from the moment every member had started
   *     it (its groups at once: the longest)
   */
  record SegmentTimes(List<Integer> cuts, double[] backwardSeconds, long[] bytes, double[] transferSeconds) {
    public SegmentTimes {
      cuts = List.copyOf(cuts);
      int segments = cuts.size() + 1;
      if (backwardSeconds.length != segments || bytes.length != segments || transferSeconds.length != segments) {
        throw new IllegalArgumentException(cuts.size() + " cuts make " + segments + " segments, not "
            + backwardSeconds.length + "/" + bytes.length + "/" + transferSeconds.length);
      }
    }
  }
}
