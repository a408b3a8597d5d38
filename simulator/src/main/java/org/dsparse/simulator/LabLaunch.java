package org.dsparse.simulator;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.dsparse.core.lab.JvmSizing;
import org.dsparse.core.lab.LabProfile;
import org.dsparse.training.profile.MeasuredJvm;

/**
 * How a device's JVM is started, on the lab or off it: the one place that knows what a lab device's
 * command line is, for {@link ProcessCluster} and the benches that start their device JVMs themselves.
 *
 * <p>A lab device's JVM takes the settings a node chooses from its RAM ({@link JvmSizing}) and the
 * cluster's failure-detector pause, and its whole process runs in its cgroups from its first
 * instruction ({@link DeviceCgroup#wrap}); it finds its own budget ({@link #budget}). Off the lab a
 * device gets a fixed, pre-touched heap and the budget given.
 */
public final class LabLaunch {
  /** Every node of a cluster must judge heartbeats alike, so a lab device takes the base config's pause. */
  public static final String FAILURE_DETECTOR_PAUSE = "pekko.cluster.failure-detector.acceptable-heartbeat-pause";

  private LabLaunch() {}

  /**
   * The command that starts {@code mainClass} with {@code args}: in {@code cgroup}'s groups, sized from its
   * RAM, when it is not null (and says so on standard error); else with the fixed heap {@code heap}.
   *
   * @param base the configuration whose {@value #FAILURE_DETECTOR_PAUSE} the lab device takes
   */
  public static ProcessBuilder builder(DeviceCgroup cgroup, String heap, Class<?> mainClass, List<String> args,
      Config base) {
    if (cgroup == null) {
      return MeasuredJvm.builder(heap, mainClass, args);
    }
    ProcessBuilder builder = inGroups(cgroup.profile(), cgroup::wrap, mainClass, args, base);
    System.err.println("[" + cgroup.device() + "] lab profile " + cgroup.profile().describe() + "; JVM: "
        + JvmSizing.forRam(cgroup.profile().memoryLimitBytes()).describe());
    return builder;
  }

  /** The lab command for {@code profile}, wrapped by {@code wrap} (a device's {@link DeviceCgroup#wrap}). */
  static ProcessBuilder inGroups(LabProfile profile, UnaryOperator<List<String>> wrap, Class<?> mainClass,
      List<String> args, Config base) {
    List<String> options = new ArrayList<>(JvmSizing.forRam(profile.memoryLimitBytes()).options());
    // A device whose whole process shares a fraction of a core sends heartbeats late while it trains
    // (conf/lab-default.conf says how late).
    options.add("-D" + FAILURE_DETECTOR_PAUSE + "=" + base.getString(FAILURE_DETECTOR_PAUSE));
    ProcessBuilder builder = MeasuredJvm.builder(options, mainClass, args);
    builder.command(wrap.apply(builder.command()));
    // Here PyTorch's NNPACK fails to initialise ("Unsupported hardware": it wants AVX2 and an L3 cache
    // its CPU detection can see), and PyTorch then warns at every convolution that could use it: about
    // 270 lines per MobileNetV2 step, 111,000 in one bench/lab run, written from the device's fraction
    // of a core. The convolutions run on PyTorch's other kernels either way; errors are still printed.
    builder.environment().put(TORCH_LOG_LEVEL, "ERROR");
    return builder;
  }

  /** libtorch's log threshold (c10's {@code LOG}), read when the library loads. */
  static final String TORCH_LOG_LEVEL = "TORCH_CPP_LOG_LEVEL";

  /** A device's {@code --budget}: {@code auto} on the lab (the device finds its own), else {@code fixed}. */
  public static String budget(DeviceCgroup cgroup, String fixed) {
    return cgroup == null ? fixed : DeviceProfile.AUTO;
  }
}
