package org.dsparse.protocol.job;

import java.util.List;
import org.dsparse.protocol.control.ControlMessage;

/**
 * A device's sub-model in a job of mode {@code submodels}: the filters of the global model it keeps
 * in each convolution layer and the classes its classifier keeps, each ascending.
 *
 * @param filters per convolution layer, the kept filters' indices in the global model
 * @param classes the classes it holds and learns
 */
public record SubModelRole(List<List<Integer>> filters, List<Integer> classes) implements ControlMessage {
  public SubModelRole {
    filters = filters.stream().map(List::copyOf).toList();
    classes = List.copyOf(classes);
  }

  /** The filters as arrays, per layer. */
  public int[][] filterArrays() {
    return filters.stream().map(f -> f.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
  }

  public int[] classArray() {
    return classes.stream().mapToInt(Integer::intValue).toArray();
  }
}
