package org.dsparse.actors.job;

import java.util.List;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.WireBytes;

/**
 * A finished job's figures.
 *
 * @param aggMillisPerStep mean over steps of the slowest device's AllReduce and Broadcast time in
 *     that step (the step's aggregation critical path; collectives timed from their last member's start)
 * @param stepMillis mean wall time of a step
 * @param medianAggMillis median over steps of the same aggregation critical path
 * @param medianStepMillis median wall time of a step
 * @param medianComputeMillis median over steps of the step's longest compute (its slowest device's
 *     model work, which with overlap runs while the device's collectives move data)
 * @param medianBackwardMillis median over steps of the step's longest backward (from the loss to
 *     the last gradients handed to the collectives: what overlap can hide communication under)
 * @param testAccuracy after the last epoch
 * @param epochAccuracies after each epoch
 * @param epochLosses mean training loss of each epoch
 * @param accuracyCurve test accuracy at each evaluation, with the training time spent until then
 * @param overlapSchedules each change of the overlap cuts, in order, with what it was predicted to gain
 */
public record JobReport(
    JobSpec spec,
    String plan,
    long fullUpdatePeakBytes,
    List<DeviceReport> devices,
    long steps,
    double aggMillisPerStep,
    double stepMillis,
    double medianAggMillis,
    double medianStepMillis,
    double medianComputeMillis,
    double medianBackwardMillis,
    double testAccuracy,
    List<Double> epochAccuracies,
    List<Double> epochLosses,
    List<AccuracyPoint> accuracyCurve,
    List<String> checkpoints,
    List<String> overlapSchedules,
    List<Recovery> recoveries) {

  /**
   * One change of the job's devices, and how the job went on.
   *
   * @param cause what happened: which device was lost and how, or which joined
   * @param lost the devices dropped from the job
   * @param joined the devices adopted by the job
   * @param phase what the job was doing ("step 12", "evaluate", "prepare", ...)
   * @param detectedAtMillis wall clock (ms since 1970) when the coordinator learned of it
   * @param trainingAgainAtMillis wall clock when the devices were given the next step
   * @param resumedFromStep the committed step the job went on from
   * @param stepsRedone steps done after that one, which were lost and trained again
   * @param devices the job's devices afterwards
   * @param fetched how each device that did not hold the committed state took it, by device
   */
  public record Recovery(String cause, List<String> lost, List<String> joined, String phase, long detectedAtMillis,
      long trainingAgainAtMillis, long resumedFromStep, long stepsRedone, List<String> devices,
      java.util.Map<String, DeviceEvent.StateTaken> fetched) {
    public Recovery {
      lost = List.copyOf(lost);
      joined = List.copyOf(joined);
      devices = List.copyOf(devices);
      fetched = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(fetched));
    }

    public Recovery(String cause, List<String> lost, List<String> joined, String phase, long detectedAtMillis,
        long trainingAgainAtMillis, long resumedFromStep, long stepsRedone, List<String> devices) {
      this(cause, lost, joined, phase, detectedAtMillis, trainingAgainAtMillis, resumedFromStep, stepsRedone, devices,
          java.util.Map.of());
    }

    /** The same recovery, {@code device} having taken the state as {@code taken} says. */
    public Recovery taking(String device, DeviceEvent.StateTaken taken) {
      java.util.Map<String, DeviceEvent.StateTaken> more = new java.util.TreeMap<>(fetched);
      more.put(device, taken);
      return new Recovery(cause, lost, joined, phase, detectedAtMillis, trainingAgainAtMillis, resumedFromStep,
          stepsRedone, devices, more);
    }

    /** The same recovery, having lost {@code device} too. */
    public Recovery losing(String device) {
      if (lost.contains(device)) {
        return this;
      }
      List<String> more = new java.util.ArrayList<>(lost);
      more.add(device);
      return new Recovery(cause, more, joined, phase, detectedAtMillis, trainingAgainAtMillis, resumedFromStep,
          stepsRedone, devices, fetched);
    }

    /** The same recovery, having adopted {@code devices} too. */
    public Recovery adopting(List<String> adopted) {
      List<String> more = new java.util.ArrayList<>(joined);
      more.addAll(adopted);
      return new Recovery(cause, lost, more, phase, detectedAtMillis, trainingAgainAtMillis, resumedFromStep,
          stepsRedone, devices, fetched);
    }

    /** The recovery done: training again at {@code atMillis} on {@code after}. */
    public Recovery trainingAgain(long atMillis, List<String> after) {
      return new Recovery(cause, lost, joined, phase, detectedAtMillis, atMillis, resumedFromStep, stepsRedone, after,
          fetched);
    }
  }

  /**
   * @param step steps done when evaluated
   * @param trainingSeconds wall time of those steps, evaluations excluded
   */
  public record AccuracyPoint(long step, double trainingSeconds, double accuracy) {}

  /** The first evaluation at which the run reached {@code target}, if any. */
  public java.util.Optional<AccuracyPoint> firstReaching(double target) {
    return accuracyCurve.stream().filter(p -> p.accuracy() >= target).findFirst();
  }

  /**
   * @param predictedBytes the memory model's prediction for its update set
   * @param measuredBytes peak resident growth while training (0 when not measured)
   * @param aggMillisPerStep its mean AllReduce and Broadcast time per step, from the moment every
   *     member had started each collective (see {@code StepMetrics})
   * @param collectiveWallMillisPerStep its mean wall time in collectives, waiting for slower devices included
   * @param computeMillisPerStep its mean DJL time per step
   * @param bytesPerStep payload it sent or received in collectives per step (the plan's view)
   * @param wire what its transports counted on the network over the whole job, by group and kind
   *     (sent and received; see {@code WireBytes})
   */
  public record DeviceReport(String name, long budgetBytes, int updatedLayers, long predictedBytes,
      long measuredBytes, double aggMillisPerStep, double allReduceMillisPerStep,
      double broadcastMillisPerStep, double collectiveWallMillisPerStep, double computeMillisPerStep,
      double bytesPerStep, long steps, List<WireBytes> wire) {
    public DeviceReport {
      wire = List.copyOf(wire);
    }

    /** Bytes sent plus received per step, all kinds. */
    public double wireBytesPerStep() {
      return wire.stream().mapToLong(WireBytes::total).sum() / (double) Math.max(1, steps);
    }

    /** Bytes sent plus received per step of one kind, all groups. */
    public double wireBytesPerStep(String kind) {
      return wire.stream().filter(w -> w.kind().equals(kind)).mapToLong(WireBytes::total).sum()
          / (double) Math.max(1, steps);
    }
  }

  /** Mean over devices of the bytes each sent plus received per step. */
  public double wireBytesPerStepPerDevice() {
    return devices.stream().mapToDouble(DeviceReport::wireBytesPerStep).average().orElse(0);
  }

  /** The same for one kind. */
  public double wireBytesPerStepPerDevice(String kind) {
    return devices.stream().mapToDouble(d -> d.wireBytesPerStep(kind)).average().orElse(0);
  }
}
