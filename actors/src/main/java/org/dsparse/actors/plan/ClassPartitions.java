package org.dsparse.actors.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.dsparse.core.data.ClassPartition;
import org.dsparse.protocol.job.JobSpec;

/**
 * A job's partition by classes ({@code partition = classes:...}): a label skew of a number of
 * classes per device, or each device's classes listed in the order of the job's devices.
 */
public final class ClassPartitions {
  /** What the partition key accepts after {@code classes:}. */
  public static final String FORM = "classes:([0-9]+-[0-9]+|[0-9]+(\\+[0-9]+)*(,[0-9]+(\\+[0-9]+)*)*)";

  private ClassPartitions() {}

  /** Whether the job partitions its data by classes. */
  public static boolean byClasses(JobSpec spec) {
    return spec.partition().trim().startsWith("classes:");
  }

  /**
   * The job's classes per device, for {@code devices} devices of a dataset of {@code classes}
   * classes; errors name the partition and what is wrong (a class held by no device among them).
   */
  public static ClassPartition of(JobSpec spec, int classes, int devices) {
    String text = spec.partition().trim();
    String body = text.substring("classes:".length());
    try {
      if (body.matches("[0-9]+-[0-9]+")) {
        String[] range = body.split("-");
        return ClassPartition.skewed(classes, devices, Integer.parseInt(range[0]), Integer.parseInt(range[1]),
            spec.seed());
      }
      String[] lists = body.split(",");
      if (lists.length != devices) {
        throw new IllegalArgumentException("it lists the classes of " + lists.length + " devices, the job has "
            + devices);
      }
      List<int[]> held = new ArrayList<>();
      for (String list : lists) {
        held.add(Arrays.stream(list.split("\\+")).mapToInt(Integer::parseInt).toArray());
      }
      return ClassPartition.of(classes, held);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("job " + spec.jobId() + ": partition '" + text + "': " + e.getMessage());
    }
  }
}
