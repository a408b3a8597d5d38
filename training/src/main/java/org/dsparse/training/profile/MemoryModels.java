package org.dsparse.training.profile;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.training.model.LayeredModel;

/** Memory models for real networks, with the calibrated coefficients from configuration. */
public final class MemoryModels {
  private static final String PATH = "dsparse.memory-model";

  private MemoryModels() {}

  /** The coefficients under {@code dsparse.memory-model}; a bad value names its key. */
  public static MemoryCoefficients coefficients(Config config) {
    try {
      Config c = config.getConfig(PATH);
      return new MemoryCoefficients(
          c.getDouble("updated-activation-factor"),
          c.getDouble("pass-through-activation-factor"),
          c.getDouble("transient-factor"),
          c.getDouble("prefix-peak-factor"),
          c.getBytes("fixed-overhead"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("memory model configuration: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("memory model configuration " + PATH + ": " + e.getMessage(), e);
    }
  }

  /**
   * The coefficients for a device that trains in a cluster: {@link #coefficients} plus
   * {@code dsparse.memory-model.cluster-overhead}, what the cluster's runtime adds to a training
   * process that the single-process profiler never sees.
   */
  public static MemoryCoefficients clusterDeviceCoefficients(Config config) {
    MemoryCoefficients alone = coefficients(config);
    long clusterOverhead;
    try {
      clusterOverhead = config.getBytes(PATH + ".cluster-overhead");
    } catch (ConfigException e) {
      throw new IllegalArgumentException("memory model configuration: " + e.getMessage(), e);
    }
    if (clusterOverhead < 0) {
      throw new IllegalArgumentException("memory model configuration " + PATH + ".cluster-overhead: must be"
          + " non-negative, got " + clusterOverhead);
    }
    return alone.plusFixedOverhead(clusterOverhead);
  }

  /** The calibrated memory model of {@code model} alone in a process, from the default configuration. */
  public static MemoryModel of(LayeredModel model) {
    return new MemoryModel(model.layerCosts(), coefficients(ConfigFactory.load()));
  }
}
