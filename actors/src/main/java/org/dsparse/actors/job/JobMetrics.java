package org.dsparse.actors.job;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.protocol.job.Assignment;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.protocol.job.StepMetrics;
import org.dsparse.protocol.job.WireBytes;

/**
 * What a job measured, as its coordinator hears it: each step's devices' metrics, each evaluation's
 * accuracy, each epoch's loss and checkpoint; it makes them into the {@link JobReport}.
 */
final class JobMetrics {
  private final Map<String, DeviceTotals> totals = new LinkedHashMap<>();
  /** Each step's wall time, in order. */
  private final List<Double> stepMillis = new ArrayList<>();
  /** Each step's aggregation critical path (its slowest device's aggregation time), in order. */
  private final List<Double> stepAggregation = new ArrayList<>();
  /** Each step's longest compute (its slowest device's model work), in order. */
  private final List<Double> stepCompute = new ArrayList<>();
  /** Each step's longest backward (the part of compute that overlap can hide communication under). */
  private final List<Double> stepBackward = new ArrayList<>();
  /** The current step's device losses and slowest aggregation. */
  private final List<Float> stepLosses = new ArrayList<>();
  private double currentAggregation;
  private double currentCompute;
  private double currentBackward;
  private double epochLossSum;
  private int epochLossCount;
  private final List<Double> epochAccuracies = new ArrayList<>();
  private final List<Double> epochLosses = new ArrayList<>();
  /** Test accuracy after given steps (every evaluate-every steps, and at epoch ends). */
  private final List<JobReport.AccuracyPoint> accuracyCurve = new ArrayList<>();
  private final List<String> checkpoints = new ArrayList<>();
  private final List<String> overlapSchedules = new ArrayList<>();
  private final List<JobReport.Recovery> recoveries = new ArrayList<>();

  JobMetrics(Iterable<String> devices) {
    devices.forEach(d -> totals.put(d, new DeviceTotals()));
  }

  /** One device's account of the current step. */
  void deviceStepped(String device, StepMetrics metrics) {
    totals.computeIfAbsent(device, d -> new DeviceTotals()).add(metrics);
    // A tile group's members other than its head compute no loss.
    if (!Float.isNaN(metrics.loss())) {
      stepLosses.add(metrics.loss());
    }
    currentAggregation = Math.max(currentAggregation, metrics.aggregationMillis());
    currentCompute = Math.max(currentCompute, metrics.computeMillis());
    currentBackward = Math.max(currentBackward, java.util.Arrays.stream(metrics.segments().backwardMillis()).sum());
  }

  /** Every device reported the current step, which took {@code millis}; answers its mean loss. */
  double stepEnded(double millis) {
    stepMillis.add(millis);
    stepAggregation.add(currentAggregation);
    currentAggregation = 0;
    stepCompute.add(currentCompute);
    currentCompute = 0;
    stepBackward.add(currentBackward);
    currentBackward = 0;
    double loss = stepLosses.stream().mapToDouble(Float::doubleValue).average().orElse(Double.NaN);
    stepLosses.clear();
    epochLossSum += loss;
    epochLossCount++;
    return loss;
  }

  /** Test accuracy after {@code steps} steps. */
  void evaluated(long steps, double accuracy) {
    double trainingSeconds = stepMillis.stream().mapToDouble(Double::doubleValue).sum() / 1000;
    accuracyCurve.add(new JobReport.AccuracyPoint(steps, trainingSeconds, accuracy));
  }

  /** The epoch ended with {@code accuracy}; answers its mean training loss. */
  double epochEnded(double accuracy) {
    double loss = epochLossSum / Math.max(1, epochLossCount);
    epochAccuracies.add(accuracy);
    epochLosses.add(loss);
    epochLossSum = 0;
    epochLossCount = 0;
    return loss;
  }

  void overlapScheduled(String change) {
    overlapSchedules.add(change);
  }

  void recovered(JobReport.Recovery recovery) {
    recoveries.add(recovery);
  }

  /** A step was abandoned: what its devices reported so far does not count. */
  void stepAbandoned() {
    stepLosses.clear();
    currentAggregation = 0;
    currentCompute = 0;
    currentBackward = 0;
  }

  void checkpointed(String path) {
    checkpoints.add(path);
  }

  List<String> checkpoints() {
    return List.copyOf(checkpoints);
  }

  JobReport report(JobSpec spec, PlannedJob plan, Iterable<DeviceInfo> devices, long steps) {
    List<JobReport.DeviceReport> reports = new ArrayList<>();
    for (DeviceInfo device : devices) {
      // A device adopted at the job's last committed step has no step of its own yet.
      reports.add(totals.getOrDefault(device.name(), new DeviceTotals()).report(device,
          plan.assignments().get(device.name())));
    }
    return new JobReport(spec, plan.description(), plan.fullUpdatePeakBytes(), reports, steps,
        mean(stepAggregation), mean(stepMillis), median(stepAggregation), median(stepMillis), median(stepCompute),
        median(stepBackward),
        epochAccuracies.get(epochAccuracies.size() - 1), List.copyOf(epochAccuracies), List.copyOf(epochLosses),
        List.copyOf(accuracyCurve), List.copyOf(checkpoints), List.copyOf(overlapSchedules), List.copyOf(recoveries));
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElse(0);
  }

  private static double median(List<Double> values) {
    if (values.isEmpty()) {
      return 0;
    }
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** Sums of one device's step metrics. */
  private static final class DeviceTotals {
    long steps;
    double computeMillis;
    double allReduceMillis;
    double broadcastMillis;
    double aggregationMillis;
    double collectiveWallMillis;
    long bytes;
    long peakTrainingBytes;
    final Map<List<String>, WireBytes> wire = new LinkedHashMap<>();

    void add(StepMetrics m) {
      steps++;
      computeMillis += m.computeMillis();
      allReduceMillis += m.allReduceMillis();
      broadcastMillis += m.broadcastMillis();
      aggregationMillis += m.aggregationMillis();
      collectiveWallMillis += m.collectiveWallMillis();
      bytes += m.allReduceBytes() + m.broadcastBytes();
      peakTrainingBytes = Math.max(peakTrainingBytes, m.peakTrainingBytes());
      for (WireBytes w : m.wire()) {
        wire.merge(List.of(w.group(), w.kind()), w, WireBytes::plus);
      }
    }

    JobReport.DeviceReport report(DeviceInfo device, Assignment assignment) {
      double n = Math.max(1, steps);
      return new JobReport.DeviceReport(device.name(), device.budgetBytes(),
          assignment.updatedLayers().size(), assignment.predictedPeakBytes(), peakTrainingBytes,
          aggregationMillis / n, allReduceMillis / n, broadcastMillis / n, collectiveWallMillis / n,
          computeMillis / n, bytes / n, steps, List.copyOf(wire.values()));
    }
  }
}
