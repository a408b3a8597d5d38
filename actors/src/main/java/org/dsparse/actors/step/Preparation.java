package org.dsparse.actors.step;

import java.util.List;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;

/**
 * What a device prepares its part of a job from.
 *
 * @param devices the job's devices as they are now, in rank order
 * @param device this device's name
 * @param assignment its part of the plan; {@code groups} the plan's process groups
 * @param source where this device reads the job's data
 * @param measureMemory whether the device measures its memory: the process's peak is then reset
 *     after the data is loaded (and a warm-up ran), so that it measures training alone
 * @param restore where a re-planned job continues, with {@code restored} the state of that step;
 *     both null otherwise
 */
public record Preparation(JobSpec spec, List<DeviceInfo> devices, String device, Assignment assignment,
    List<GroupPlan> groups, DataSource source, boolean measureMemory, DeviceCommand.Restore restore,
    CommittedState restored) {

  /** This device's rank among the job's devices. */
  public int rank() {
    return devices.stream().map(DeviceInfo::name).toList().indexOf(device);
  }
}
