package org.dsparse.core.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JVM settings a node chooses from the RAM its device has: a fixed, pre-touched heap, the C1
 * compiler only, the serial collector and bounded non-heap areas.
 *
 * <p>Why a pre-touched heap: the kernel then charges the whole heap once, at start, so the memory a
 * device has left for training is known before the first job (the node measures itself after
 * start-up) and no later heap growth can push a board over its limit mid-step. A heap that grows on
 * demand would leave the planner guessing how much of it the collector keeps.
 *
 * <p>Why C1 only: C2's compiler arenas raise a process's resident size by 10-60 MiB at unpredictable
 * moments (measured on MobileNetV2 devices); the numerical work is PyTorch's, so C1 costs little.
 * Why the serial collector: one core or less per device, and the smallest footprint of HotSpot's
 * collectors (no remembered sets or marking bitmaps beside the heap).
 *
 * @param heapBytes the heap, {@code -Xms} = {@code -Xmx}
 */
public record JvmSizing(long heapBytes) {
  /**
   * Below this a node cannot prepare a job: a device reads the whole training set before it takes its
   * partition (Fashion-MNIST: 47 MB of pixels, then the partition's copy), beside the test set, the
   * cluster's state and a model snapshot. 128 MiB failed with "Java heap space" while preparing.
   */
  public static final long MIN_HEAP = 192L << 20;
  /** Above this the heap only takes memory from training. */
  public static final long MAX_HEAP = 1L << 30;
  /** Share of the device's RAM the heap takes between those bounds. */
  static final double HEAP_SHARE = 0.25;
  /** Set on a JVM started with these settings, so it does not choose again. */
  public static final String CHOSEN_PROPERTY = "dsparse.jvm.sized";

  public JvmSizing {
    if (heapBytes < (16L << 20)) {
      throw new IllegalArgumentException("heap of " + heapBytes + " bytes is below 16 MiB");
    }
  }

  /** A quarter of {@code ramBytes}, between {@link #MIN_HEAP} and {@link #MAX_HEAP}, in whole MiB. */
  public static JvmSizing forRam(long ramBytes) {
    if (ramBytes <= 0) {
      throw new IllegalArgumentException("RAM must be positive, got " + ramBytes);
    }
    long heap = Math.max(MIN_HEAP, Math.min(MAX_HEAP, Math.round(ramBytes * HEAP_SHARE)));
    return new JvmSizing(heap >> 20 << 20);
  }

  /** The JVM options, in order. */
  public List<String> options() {
    long mib = heapBytes >> 20;
    List<String> options = new ArrayList<>(List.of("-Xms" + mib + "m", "-Xmx" + mib + "m", "-XX:+AlwaysPreTouch",
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=48m",
        "-XX:MaxMetaspaceSize=128m", "-Xss512k"));
    options.add("-D" + CHOSEN_PROPERTY + "=true");
    return options;
  }

  /** {@code heap 256 MiB (pre-touched), C1 only, serial GC} */
  public String describe() {
    return String.format(Locale.ROOT, "heap %d MiB (pre-touched), C1 only, serial GC, code cache 48 MiB,"
        + " metaspace at most 128 MiB, 512 KiB thread stacks", heapBytes >> 20);
  }
}
