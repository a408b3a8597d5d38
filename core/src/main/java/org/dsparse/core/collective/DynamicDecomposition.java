package org.dsparse.core.collective;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * DynaComm's dynamic decomposition (Cai et al., 2021) for a job's devices: the cuts of the backward
 * chosen from each device's measured per-layer backward times and measured link, and re-chosen as
 * the measurements move.
 *
 * <p>The job's first step warms up (compilation, first allocations) and is neither cut nor measured.
 * On its second step, and every {@code profileEvery} steps after it, the devices cut at every layer:
 * each segment's backward time is then one layer's, and its transfers (of every size the layers
 * have) sample the link. On the other steps each segment's measured time rescales the
 * estimates of its layers, so the per-layer times follow the run without a cut at every layer.
 * Each device's link is fitted as a latency plus bytes over a rate (least squares over its recent
 * transfers). The cuts must be the same on every device (a group's members AllReduce the same
 * segments), so the candidates (each device's own best cuts under {@link OverlapCuts#fastest}, the
 * current cuts, and none) are compared by the time the slowest device's last transfer ends; the
 * current cuts stay unless another candidate is predicted to end clearly sooner, so that noise does
 * not reshuffle the schedule every step.
 */
public final class DynamicDecomposition implements OverlapScheduler {
  /** How far one step's measurement moves an estimate toward itself. */
  private static final double WEIGHT = 0.5;
  /** Transfers kept per device for the link fit. */
  private static final int LINK_SAMPLES = 64;
  /** A new schedule must be predicted to end this much sooner than the current one to replace it. */
  private static final double HYSTERESIS = 0.03;

  private final int layers;
  private final int maxSegments;
  private final int profileEvery;
  private final List<Integer> profileCuts;
  private final Map<String, DeviceEstimate> devices = new TreeMap<>();
  private List<Integer> chosen = List.of();

  /**
   * @param allReduceBytesPerLayer by device: each layer's AllReduce payload on that device
   * @param maxSegments at most this many segments
   * @param profileEvery steps between cuts at every layer (0: only on the second step)
   */
  public DynamicDecomposition(Map<String, long[]> allReduceBytesPerLayer, int maxSegments, int profileEvery) {
    if (allReduceBytesPerLayer.isEmpty() || maxSegments < 1 || profileEvery < 0) {
      throw new IllegalArgumentException(allReduceBytesPerLayer.size() + " devices, " + maxSegments
          + " segments, profiling every " + profileEvery + " steps: need devices, a positive number of segments and"
          + " a non-negative interval");
    }
    this.layers = allReduceBytesPerLayer.values().iterator().next().length;
    allReduceBytesPerLayer.forEach((device, bytes) -> {
      if (bytes.length != layers) {
        throw new IllegalArgumentException("device " + device + " has " + bytes.length + " layers, not " + layers);
      }
      devices.put(device, new DeviceEstimate(bytes.clone()));
    });
    this.maxSegments = maxSegments;
    this.profileEvery = profileEvery;
    this.profileCuts = OverlapCuts.everyLayer(layers, maxSegments);
  }

  @Override
  public List<Integer> cutsFor(long step) {
    return step == 1 || (profileEvery > 0 && step > 1 && step % profileEvery == 1) ? profileCuts : chosen;
  }

  @Override
  public Optional<String> observe(long step, Map<String, SegmentTimes> measured) {
    if (step == 0) {
      return Optional.empty();
    }
    measured.forEach((device, times) -> {
      DeviceEstimate estimate = devices.get(device);
      if (estimate != null) {
        estimate.take(times);
      }
    });
    if (devices.values().stream().anyMatch(d -> !d.profiled())) {
      return Optional.empty();
    }
    Set<List<Integer>> candidates = new LinkedHashSet<>();
    candidates.add(chosen);
    candidates.add(List.of());
    for (DeviceEstimate d : devices.values()) {
      if (d.sends()) {
        candidates.add(OverlapCuts.fastest(d.layerSeconds, d.bytes, d.rate(), d.latency(), maxSegments).cuts());
      }
    }
    List<Integer> best = chosen;
    double bestEnds = slowestEnd(chosen);
    double current = bestEnds;
    for (List<Integer> cuts : candidates) {
      double ends = slowestEnd(cuts);
      if (ends < bestEnds) {
        best = cuts;
        bestEnds = ends;
      }
    }
    if (best.equals(chosen) || bestEnds > current * (1 - HYSTERESIS)) {
      return Optional.empty();
    }
    chosen = best;
    return Optional.of(String.format(Locale.ROOT,
        "overlap: from step %d the backward is cut before layers %s (%d segments); the slowest device's last"
            + " AllReduce is predicted to end %.0f ms after its backward starts, against %.0f ms with the previous cuts"
            + " and %.0f ms uncut; %s", step + 1, best, best.size() + 1, bestEnds * 1e3, current * 1e3,
        slowestEnd(List.of()) * 1e3, links()));
  }

  /** When the slowest device's last AllReduce ends under {@code cuts}. */
  private double slowestEnd(List<Integer> cuts) {
    double slowest = 0;
    for (DeviceEstimate d : devices.values()) {
      slowest = Math.max(slowest, d.sends()
          ? OverlapCuts.lastTransferEnds(d.layerSeconds, d.bytes, d.rate(), d.latency(), cuts)
          : Arrays.stream(d.layerSeconds).sum());
    }
    return slowest;
  }

  private String links() {
    List<String> parts = new ArrayList<>();
    devices.forEach((name, d) -> {
      if (d.sends()) {
        parts.add(String.format(Locale.ROOT, "%s %.0f ms backward, link %.1f MB/s + %.1f ms", name,
            Arrays.stream(d.layerSeconds).sum() * 1e3, d.rate() / 1e6, d.latency() * 1e3));
      }
    });
    return "measured: " + String.join("; ", parts);
  }

  /** One device's estimates: per-layer backward times and its link. */
  private final class DeviceEstimate {
    final long[] bytes;
    final double[] layerSeconds;
    final double[] sampleBytes = new double[LINK_SAMPLES];
    final double[] sampleSeconds = new double[LINK_SAMPLES];
    int samples;
    double rate = Double.NaN;
    double latency;

    DeviceEstimate(long[] bytes) {
      this.bytes = bytes;
      this.layerSeconds = new double[layers];
      Arrays.fill(layerSeconds, Double.NaN);
    }

    boolean profiled() {
      return !Double.isNaN(layerSeconds[0]) && (!sends() || !Double.isNaN(rate));
    }

    boolean sends() {
      return Arrays.stream(bytes).anyMatch(b -> b > 0);
    }

    double rate() {
      return rate;
    }

    double latency() {
      return latency;
    }

    void take(SegmentTimes times) {
      List<Integer> cuts = times.cuts();
      for (int s = 0; s <= cuts.size(); s++) {
        int low = s == 0 ? 0 : cuts.get(s - 1);
        int high = s == cuts.size() ? layers : cuts.get(s);
        if (high <= low || high > layers) {
          continue;
        }
        rescale(low, high, times.backwardSeconds()[s]);
        if (times.bytes()[s] > 0 && times.transferSeconds()[s] > 0) {
          sampleBytes[samples % LINK_SAMPLES] = times.bytes()[s];
          sampleSeconds[samples % LINK_SAMPLES] = times.transferSeconds()[s];
          samples++;
        }
      }
      fitLink();
    }

    /** Moves the estimates of layers [low, high) toward a segment's measured time, keeping their proportions. */
    private void rescale(int low, int high, double measured) {
      double estimated = 0;
      for (int layer = low; layer < high; layer++) {
        estimated += layerSeconds[layer];
      }
      if (Double.isNaN(estimated) || estimated <= 0) {
        // Nothing known of the proportions yet: an even share each.
        for (int layer = low; layer < high; layer++) {
          layerSeconds[layer] = measured / (high - low);
        }
        return;
      }
      double factor = 1 - WEIGHT + WEIGHT * measured / estimated;
      for (int layer = low; layer < high; layer++) {
        layerSeconds[layer] *= factor;
      }
    }

    /**
     * Latency and rate by least squares over the kept transfers; through the origin when the fit
     * would give a negative latency, and a plain average rate when the transfers all had one size.
     */
    private void fitLink() {
      int n = Math.min(samples, LINK_SAMPLES);
      if (n == 0) {
        return;
      }
      double sumX = 0;
      double sumY = 0;
      double sumXX = 0;
      double sumXY = 0;
      for (int i = 0; i < n; i++) {
        sumX += sampleBytes[i];
        sumY += sampleSeconds[i];
        sumXX += sampleBytes[i] * sampleBytes[i];
        sumXY += sampleBytes[i] * sampleSeconds[i];
      }
      double sxx = sumXX - sumX * sumX / n;
      double sxy = sumXY - sumX * sumY / n;
      double slope = sxx > 1e-9 * sumXX ? sxy / sxx : Double.NaN;
      if (slope > 0) {
        double intercept = (sumY - slope * sumX) / n;
        if (intercept >= 0) {
          rate = 1 / slope;
          latency = intercept;
          return;
        }
        rate = sumXX / sumXY;
        latency = 0;
        return;
      }
      rate = sumX / sumY;
      latency = 0;
    }
  }
}
