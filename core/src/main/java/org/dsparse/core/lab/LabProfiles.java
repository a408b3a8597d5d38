package org.dsparse.core.lab;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dsparse.core.cli.UsageException;

/**
 * The boards the lab stands in for, scaled to a two-core machine.
 *
 * <p><b>CPU.</b> Each device trains on one PyTorch thread, so what matters is one core's speed. Relative
 * single-core speeds (Raspberry Pi 3B = 1): Pi 4B (Cortex-A72 at 1.5 GHz) 2.0, from the 2-3x per core
 * over the Pi 3B (Cortex-A53 at 1.2 GHz) that the Raspberry Pi Foundation's and reviewers' benchmarks
 * give for the Pi 4's launch (sysbench, Linpack); Jetson Nano's CPU (Cortex-A57 at 1.43 GHz) 1.5,
 * between the two by core and clock (dsparse runs PyTorch's CPU engine, so the Nano's GPU is unused);
 * a NUC-class x86 mobile core 6.0. These are round figures from published clock, core and benchmark
 * data, not measurements of ours. The lab gives each device {@link #CORES_PER_SPEED} cores per unit of
 * speed, so that the default seven-device lab takes 1.8 of the machine's two cores: nothing is
 * oversubscribed and the coordinator keeps the rest.
 *
 * <p><b>Memory.</b> A board's RAM is scaled as {@code JVM_FLOOR + ram / MEMORY_SCALE}: the JVM, Pekko and
 * PyTorch's libraries cost the same on every board and are not scaled (354 MiB: a device JVM holds
 * 270.5-272.5 MiB of anonymous memory once PyTorch is loaded, with a 192 MiB heap, and the kernel's share of
 * its group needs about 32 MiB more; the odd 2 MiB put the boards' budgets mid-way between two of
 * {@link MemoryRoom#QUANTUM}'s steps, so that the start-to-start variation never moves them), while the room for training is
 * scaled by 1/16, as the lab's workload (MobileNetV2 on 28 x 28 images, batch 32) is far smaller than
 * what the boards would train in the field. With it the full update of that workload does not fit the
 * 1 GB boards, as a full update of a field-sized model does not fit them.
 *
 * <p><b>Links.</b> 50 Mbit/s for the Wi-Fi boards, 100 Mbit/s for the NUC's Ethernet.
 */
public final class LabProfiles {
  /** Cores the lab grants per unit of {@link LabProfile#relativeSpeed()}. */
  public static final double CORES_PER_SPEED = 0.12;
  /** What every device needs before training, whatever its board. */
  public static final long JVM_FLOOR = 354L << 20;
  /** Divides a board's RAM into the lab's room for training. */
  public static final long MEMORY_SCALE = 16;

  private static final Map<String, LabProfile> CATALOGUE = new LinkedHashMap<>();

  static {
    add("pi3-1g", "Raspberry Pi 3B, 1 GB", 1L << 30, 1.0, 50_000_000);
    add("pi4-1g", "Raspberry Pi 4B, 1 GB", 1L << 30, 2.0, 50_000_000);
    add("pi4-2g", "Raspberry Pi 4B, 2 GB", 2L << 30, 2.0, 50_000_000);
    add("pi4-4g", "Raspberry Pi 4B, 4 GB", 4L << 30, 2.0, 50_000_000);
    add("jetson-4g", "Jetson Nano, 4 GB (CPU)", 4L << 30, 1.5, 50_000_000);
    add("nuc-8g", "Intel NUC, 8 GB", 8L << 30, 6.0, 100_000_000);
  }

  /** The default lab: seven devices of four kinds, 1.8 cores in all. */
  public static final List<String> DEFAULT_LAB = List.of("pi3-1g", "pi3-1g", "pi4-1g", "pi4-2g", "jetson-4g",
      "jetson-4g", "nuc-8g");

  private LabProfiles() {}

  private static void add(String name, String board, long ram, double speed, long link) {
    CATALOGUE.put(name, new LabProfile(name, board, JVM_FLOOR + ram / MEMORY_SCALE, CORES_PER_SPEED * speed, link,
        speed));
  }

  /** The profile called {@code name}; an unknown name is one line listing the known ones. */
  public static LabProfile named(String name, String where) {
    LabProfile profile = CATALOGUE.get(name.trim());
    if (profile == null) {
      throw new UsageException(where + " = '" + name + "': no such lab profile; known: "
          + String.join(", ", CATALOGUE.keySet()));
    }
    return profile;
  }

  public static List<LabProfile> all() {
    return new ArrayList<>(CATALOGUE.values());
  }

  /** Cores a set of profiles takes together. */
  public static double cores(List<LabProfile> profiles) {
    return profiles.stream().mapToDouble(LabProfile::cpuCores).sum();
  }
}
