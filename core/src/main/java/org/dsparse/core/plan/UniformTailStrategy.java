package org.dsparse.core.plan;

import java.util.Locale;

/**
 * The on-device fine-tuning baseline (TinyTL, MCUNetV3's sparse update, and the like, run on every
 * device): every device updates the same last layers, the longest suffix of whole layers whose
 * predicted peak fits the smallest budget, and all of them average it in one process group. The
 * layers below are frozen on every device: nobody updates them, so none needs a refresh either, and
 * every device keeps them as the job started. What the cluster learns is then bounded by its weakest
 * device, which is what DSparse's per-device plans are measured against.
 */
final class UniformTailStrategy {
  private UniformTailStrategy() {}

  /** The tail of {@code p}'s problem: its first layer, and the device whose budget bounds it. */
  record Tail(Assignment assignment, int first, String boundBy) {}

  /**
   * @throws IllegalArgumentException naming the smallest device when its budget does not hold even
   *     the last layer with weights (the classifier)
   */
  static Tail assign(PlanningProblem p) {
    int n = p.layerCount();
    int smallest = 0;
    for (int d = 1; d < p.deviceCount(); d++) {
      // Devices are in name order, so ties go to the first name: the same plan whatever the input order.
      if (p.budget(d) < p.budget(smallest)) {
        smallest = d;
      }
    }
    int last = n - 1;
    while (last >= 0 && !p.trainable[last]) {
      last--;
    }
    // Every suffix is tried, not only up to the first that does not fit: the memory model does not
    // promise that peaks grow with the suffix, and the baseline is the longest suffix that fits.
    double[] tail = new double[n];
    int first = -1;
    for (int l = last; l >= 0; l--) {
      if (!p.trainable[l]) {
        continue;
      }
      tail[l] = 1.0;
      if (p.peakBytes(tail.clone()) <= p.budget(smallest)) {
        first = l;
      }
    }
    String device = p.devices.get(smallest).device();
    if (first < 0) {
      double[] classifier = new double[n];
      classifier[last] = 1.0;
      throw new IllegalArgumentException(String.format(Locale.ROOT, "uniform-tail: device %s's budget of %.1f MiB"
              + " (the smallest) does not hold even the last layer, %s, which needs %.1f MiB at batch %d; every"
              + " device updates the same layers, so the smallest budget bounds them all", device,
          p.budget(smallest) / MIB, p.layerName(last), p.peakBytes(classifier) / MIB, p.settings.batch()));
    }
    Assignment a = new Assignment(n);
    for (int l = first; l < n; l++) {
      if (p.trainable[l]) {
        a.add(l, p.allDevices, p.units[l]);
      }
    }
    return new Tail(a, first, device);
  }

  /** Why a layer below the tail is frozen, for the plan's description. */
  static String frozenReason(PlanningProblem p, Tail tail) {
    return String.format(Locale.ROOT, "below the uniform tail (from %s), frozen on every device: the tail is the"
        + " longest suffix that fits the smallest budget, %.1f MiB of device %s", p.layerName(tail.first()),
        p.devices.stream().filter(d -> d.device().equals(tail.boundBy())).findFirst().orElseThrow().budgetBytes()
            / MIB, tail.boundBy());
  }

  private static final double MIB = 1024.0 * 1024.0;
}
