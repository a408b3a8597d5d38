package org.dsparse.core.plan;

import java.util.Comparator;
import java.util.List;
import org.dsparse.core.memory.LayerCost;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.UpdateSet;

/**
 * One validated planning input with what every strategy derives from it: devices in name order
 * (device {@code i} is bit {@code i} of an updater mask), each layer's channel units and payload,
 * and the data-parallel cost plans are measured against.
 */
final class PlanningProblem {
  /** Masks are {@code long}s. */
  static final int MAX_DEVICES = Long.SIZE;

  final MemoryModel model;
  final List<DeviceBudget> devices;
  final Importance importance;
  final PlannerSettings settings;
  /** Channel units per layer: its output channels when it may be split, else 1 (whole). */
  final int[] units;
  /** The smallest slice of a splittable layer, in units. */
  final int[] minUnits;
  /** Parameters and buffers per layer, in bytes. */
  final long[] layerBytes;
  /**
   * Layers with weights to update; the rest (pooling, reshaping) run forward only and are not
   * planned, and neither are the layers below {@code plannedFrom}, which a tile group updates.
   */
  final boolean[] trainable;
  /** Importance of the trainable layers, which normalises quality to 1 for data-parallel. */
  final double trainableImportance;
  final long allDevices;
  final AggregationCost dataParallel;
  /** Predicted peak of the full update, the yardstick of the memory term. */
  final long fullUpdatePeak;

  PlanningProblem(MemoryModel model, List<DeviceBudget> devices, Importance importance,
      PlannerSettings settings) {
    this(model, devices, importance, settings, 0);
  }

  /** A problem whose first {@code plannedFrom} layers are updated outside the plan (by a tile group). */
  PlanningProblem(MemoryModel model, List<DeviceBudget> devices, Importance importance,
      PlannerSettings settings, int plannedFrom) {
    this.model = model;
    this.devices = devices.stream().sorted(Comparator.comparing(DeviceBudget::device)).toList();
    this.importance = importance;
    this.settings = settings;
    int n = model.layers().size();
    units = new int[n];
    minUnits = new int[n];
    layerBytes = new long[n];
    trainable = new boolean[n];
    double importanceSum = 0;
    for (int l = 0; l < n; l++) {
      LayerCost layer = model.layers().get(l);
      trainable[l] = layer.trainableParams() > 0 && l >= plannedFrom;
      importanceSum += trainable[l] ? importance.weight(l) : 0;
      layerBytes[l] = (long) Float.BYTES * (layer.trainableParams() + layer.bufferElements());
      int smallest = (int) Math.ceil(settings.minChannelFraction() * layer.outputChannels() - 1e-9);
      boolean splittable = settings.channelSplits() && layer.outputChannels() >= 2 * Math.max(1, smallest);
      units[l] = splittable ? layer.outputChannels() : 1;
      minUnits[l] = splittable ? Math.max(1, smallest) : 1;
    }
    if (importanceSum == 0) {
      throw new IllegalArgumentException(java.util.stream.IntStream.range(0, n).anyMatch(l -> trainable[l])
          ? "every trainable layer has importance zero" : "the model has no trainable layer");
    }
    trainableImportance = importanceSum;
    allDevices = this.devices.size() == MAX_DEVICES ? -1L : (1L << this.devices.size()) - 1;
    long total = java.util.Arrays.stream(layerBytes).sum();
    fullUpdatePeak = model.fullUpdateBytes(settings.batch(), settings.optimizer());
    dataParallel = new AggregationCost(
        settings.aggregationSeconds(this.devices.size(), total), 0);
  }

  int layerCount() {
    return units.length;
  }

  int deviceCount() {
    return devices.size();
  }

  long budget(int device) {
    return devices.get(device).budgetBytes();
  }

  String layerName(int layer) {
    return model.layers().get(layer).name();
  }

  boolean splittable(int layer) {
    return units[layer] > 1;
  }

  long sliceBytes(int layer, int sliceUnits) {
    return sliceUnits == units[layer] ? layerBytes[layer]
        : Math.round((double) layerBytes[layer] * sliceUnits / units[layer]);
  }

  /** Predicted peak of an update set; memoised, as a search asks for the same sets many times. */
  long peakBytes(double[] fractions) {
    return peaks.computeIfAbsent(new Fractions(fractions), f -> model.predict(
        UpdateSet.ofFractions(fractions), settings.batch(), settings.optimizer()).totalBytes());
  }

  private final java.util.Map<Fractions, Long> peaks = new java.util.HashMap<>();

  private record Fractions(double[] values) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Fractions other && java.util.Arrays.equals(values, other.values);
    }

    @Override
    public int hashCode() {
      return java.util.Arrays.hashCode(values);
    }
  }

  /** Peak of updating only {@code layer}'s smallest slice: the cheapest useful update through it. */
  long cheapestBytes(int layer) {
    double[] f = new double[layerCount()];
    f[layer] = (double) minUnits[layer] / units[layer];
    return peakBytes(f);
  }

  /** The updater mask's devices as a sorted set of names. */
  UpdaterSet updaterSet(long mask) {
    return new UpdaterSet(java.util.stream.IntStream.range(0, deviceCount())
        .filter(d -> (mask & (1L << d)) != 0).mapToObj(d -> devices.get(d).device()).toList());
  }

  /** Orders masks by their lowest differing device, so sets holding earlier names come first. */
  static int compareMasks(long a, long b) {
    long diff = a ^ b;
    if (diff == 0) {
      return 0;
    }
    return (a & Long.lowestOneBit(diff)) != 0 ? -1 : 1;
  }
}
