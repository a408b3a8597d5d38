package org.dsparse.actors.job;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import java.util.Locale;
import org.dsparse.actors.mode.TrainingModes;
import org.dsparse.actors.plan.ClassPartitions;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.plan.PlanStrategy;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.model.Models;

/**
 * A job as configured under {@code dsparse.job}, validated before anything starts: every error
 * names the key and what is wrong with its value.
 *
 * @param spec what every device receives
 * @param devices how many devices the job waits for
 * @param timeouts the coordinator's deadlines
 * @param elasticity what the coordinator does when devices leave or join
 */
public record JobConfig(JobSpec spec, int devices, JobCoordinator.Timeouts timeouts,
    JobCoordinator.Elasticity elasticity) {
  private static final String PATH = "dsparse.job";

  /** The same settings for another job on {@code devices} devices. */
  public JobConfig with(JobSpec otherSpec, int otherDevices) {
    return new JobConfig(otherSpec, otherDevices, timeouts, elasticity);
  }

  public static JobConfig read(Config root) {
    Config c = root.getConfig(PATH);
    try {
      String mode = c.getString("mode").trim().toUpperCase(Locale.ROOT);
      JobSpec.Mode jobMode;
      try {
        jobMode = JobSpec.Mode.valueOf(mode);
      } catch (IllegalArgumentException e) {
        throw bad("mode", c.getString("mode"), "full, dsparse or submodels");
      }
      String model = c.getString("model");
      if (!Models.NAMES.contains(model.toLowerCase(Locale.ROOT))) {
        throw bad("model", model, String.join(" or ", Models.NAMES));
      }
      String data = c.getString("data");
      try {
        DataSource.parse(data, PATH + ".data");
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
      String partition = c.getString("partition").trim();
      if (!partition.equals("iid") && !partition.matches("dirichlet:[0-9.]+(e-?[0-9]+)?")
          && !partition.matches(ClassPartitions.FORM)) {
        throw bad("partition", partition, "iid, dirichlet:<alpha>, classes:<min>-<max> or classes:0+1,2+3,...");
      }
      String optimizer = c.getString("optimizer");
      try {
        OptimizerKind.parse(optimizer);
      } catch (IllegalArgumentException e) {
        throw bad("optimizer", optimizer, "sgd, sgd-momentum or adam");
      }
      Config p = c.getConfig("planner");
      String strategy = p.getString("strategy");
      try {
        PlanStrategy.parse(strategy);
      } catch (IllegalArgumentException e) {
        throw bad("planner.strategy", strategy, "communication-aware, shared-tail, suffix or uniform-tail");
      }
      String importance = p.getString("importance");
      if (!importance.equals("positional") && !importance.equals("gradient-norm")) {
        throw bad("planner.importance", importance, "positional or gradient-norm");
      }
      JobSpec.PlannerKnobs knobs = new JobSpec.PlannerKnobs(strategy,
          nonNegative(p, "communication-weight"), nonNegative(p, "memory-weight"), importance, p.getBytes("link-bandwidth"),
          p.getDuration("hop-latency").toNanos() / 1e9, p.getBoolean("channel-splits"),
          nonNegativeInt(c, "planner.shared-tail-layers"), p.getBoolean("memory-check"));
      JobSpec spec = new JobSpec(
          c.getString("id"), jobMode, model, data, partition, fraction(c, "held-out-fraction"),
          positive(c, "batch"), nonNegativeInt(c, "frozen-prefix-micro-batch"),
          updateMicroBatch(c), positive(c, "upsample"),
          optimizer,
          (float) positiveDouble(c, "learning-rate"),
          (float) c.getDouble("momentum"), learningRateScaling(c), positive(c, "epochs"),
          nonNegativeInt(c, "max-steps-per-epoch"), nonNegativeInt(c, "evaluate-every"), nonNegativeInt(c, "test-images"),
          positive(c, "averaging-interval"), positive(c, "refresh-interval"), c.getLong("seed"), c.getString("initial-checkpoint"),
          c.getString("checkpoint-dir"), knobs, overlap(c), compression(c), refreshCompression(c), tiling(c),
          subModels(c),
          c.getString("resume-from"));
      var refused = TrainingModes.of(spec).check(spec);
      if (refused.isPresent()) {
        throw bad(refused.get().key(), refused.get().value(), refused.get().expected());
      }
      Config t = c.getConfig("timeouts");
      JobCoordinator.Timeouts timeouts = new JobCoordinator.Timeouts(duration(t, "discovery"),
          duration(t, "prepare"), duration(t, "step"), duration(t, "evaluate"));
      Config e = c.getConfig("elastic");
      JobCoordinator.Elasticity elasticity = new JobCoordinator.Elasticity(e.getBoolean("enabled"),
          elasticDuration(e, "abandon-timeout"), elasticDuration(e, "removal-wait"), elasticDuration(e, "pause-timeout"),
          positiveInt(e, "elastic.max-recoveries-without-progress"), restoreFromShards(e));
      return new JobConfig(spec, positive(c, "devices"), timeouts, elasticity);
    } catch (ConfigException e) {
      throw new UsageException("job configuration: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new UsageException("job configuration " + PATH + ": " + e.getMessage());
    }
  }

  /**
   * {@code overlap = off}, or {@code on} with {@code overlap-segments = auto} (DynaComm's dynamic
   * decomposition, re-timing every layer each {@code overlap-profile-every} steps) or N fixed segments.
   */
  private static JobSpec.Overlap overlap(Config c) {
    boolean ahead = c.getBoolean("overlap-next-forward");
    if (!c.getBoolean("overlap")) {
      return new JobSpec.Overlap(JobSpec.Overlap.Kind.OFF, 1, 0, ahead);
    }
    int profileEvery = nonNegativeInt(c, "overlap-profile-every");
    String segments = c.getString("overlap-segments");
    if (segments.equals("auto")) {
      return new JobSpec.Overlap(JobSpec.Overlap.Kind.DYNAMIC, JobSpec.MAX_OVERLAP_SEGMENTS, profileEvery, ahead);
    }
    int fixed;
    try {
      fixed = Integer.parseInt(segments);
    } catch (NumberFormatException e) {
      fixed = 0;
    }
    if (fixed < 1 || fixed > JobSpec.MAX_OVERLAP_SEGMENTS) {
      throw bad("overlap-segments", segments, "auto or 1 to " + JobSpec.MAX_OVERLAP_SEGMENTS);
    }
    return new JobSpec.Overlap(JobSpec.Overlap.Kind.FIXED, fixed, profileEvery, ahead);
  }

  /** {@code compression { kind, ratio, rows, columns, min-floats, values-share }}; kind none ignores the rest. */
  private static JobSpec.Compression compression(Config c) {
    Config z = c.getConfig("compression");
    String kind = z.getString("kind").trim().toLowerCase(Locale.ROOT);
    if (!kind.equals("none") && !kind.equals("topk") && !kind.equals("sketch")) {
      throw bad("compression.kind", z.getString("kind"), "none, topk or sketch");
    }
    double ratio = z.getDouble("ratio");
    if (!(ratio > 1)) {
      throw bad("compression.ratio", Double.toString(ratio), "a reduction above 1, e.g. 50");
    }
    int rows = z.getInt("rows");
    if (rows < 1 || rows > 15) {
      throw bad("compression.rows", Integer.toString(rows), "1 to 15");
    }
    int columns = z.getInt("columns");
    if (columns < 0) {
      throw bad("compression.columns", Integer.toString(columns), "0 (from the ratio) or a positive number");
    }
    int minFloats = z.getInt("min-floats");
    if (minFloats < 0) {
      throw bad("compression.min-floats", Integer.toString(minFloats), "0 or a positive number");
    }
    double valuesShare = z.getDouble("values-share");
    if (!(valuesShare > 0 && valuesShare < 1)) {
      throw bad("compression.values-share", Double.toString(valuesShare), "a fraction between 0 and 1, e.g. 0.25");
    }
    if (!kind.equals("none") && c.getInt("averaging-interval") > 1) {
      throw bad("compression.kind", kind, "none with averaging-interval > 1 (compression compresses the gradients"
          + " AllReduced every step; periodic averaging averages weights)");
    }
    return kind.equals("none") ? JobSpec.Compression.NONE : new JobSpec.Compression(kind, ratio, rows, columns, minFloats,
        valuesShare);
  }

  /** {@code update-micro-batch}: 0, a number of samples, or auto (each device's own, from the plan). */
  private static int updateMicroBatch(Config c) {
    if (c.getValue("update-micro-batch").valueType() == com.typesafe.config.ConfigValueType.STRING
        && c.getString("update-micro-batch").trim().equals("auto")) {
      return JobSpec.AUTO_MICRO_BATCH;
    }
    try {
      return nonNegativeInt(c, "update-micro-batch");
    } catch (com.typesafe.config.ConfigException.WrongType e) {
      throw bad("update-micro-batch", c.getString("update-micro-batch"), "0 (the whole batch), a number of samples,"
          + " or auto");
    }
  }

  /** {@code refresh-compression { kind, ratio, bits, exact-every, check-every, overlap }}. */
  private static JobSpec.RefreshCompression refreshCompression(Config c) {
    Config r = c.getConfig("refresh-compression");
    String kind = r.getString("kind").trim();
    if (!kind.equals("none") && !kind.equals("topk") && !kind.equals("quantize")) {
      throw bad("refresh-compression.kind", kind, "none, topk or quantize");
    }
    double ratio = r.getDouble("ratio");
    if (kind.equals("topk") && !(ratio > 1)) {
      throw bad("refresh-compression.ratio", Double.toString(ratio), "above 1 (the dense refresh's bytes over the"
          + " compressed one's)");
    }
    int bits = r.getInt("bits");
    if (bits != 8 && bits != 4) {
      throw bad("refresh-compression.bits", Integer.toString(bits), "8 or 4");
    }
    int exactEvery = r.getInt("exact-every");
    if (exactEvery < 1) {
      throw bad("refresh-compression.exact-every", Integer.toString(exactEvery), "1 or more refreshes");
    }
    int checkEvery = r.getInt("check-every");
    if (checkEvery < 1) {
      throw bad("refresh-compression.check-every", Integer.toString(checkEvery), "1 or more compressed refreshes");
    }
    return kind.equals("none") ? JobSpec.RefreshCompression.NONE
        : new JobSpec.RefreshCompression(kind, ratio, bits, exactEvery, checkEvery, r.getBoolean("overlap"));
  }

  /** {@code tiling { devices, count, layers, flops-per-second, grouping }}: no names and count 0 tile nothing. */
  private static JobSpec.Tiling tiling(Config c) {
    Config t = c.getConfig("tiling");
    java.util.List<String> devices = t.getStringList("devices");
    if (devices.size() == 1 || devices.stream().distinct().count() != devices.size()) {
      throw bad("tiling.devices", devices.toString(), "two or more different device names, or none");
    }
    int count = t.getInt("count");
    if (count < 0 || count == 1) {
      throw bad("tiling.count", Integer.toString(count), "0 (no tiling) or 2 or more devices");
    }
    if (!devices.isEmpty() && count > 0 && count != devices.size()) {
      throw bad("tiling.count", Integer.toString(count), "0 or " + devices.size() + ", the number of names in"
          + " tiling.devices");
    }
    int layers = t.getInt("layers");
    if (layers < 1) {
      throw bad("tiling.layers", Integer.toString(layers), "1 or more layers");
    }
    double flops = t.getDouble("flops-per-second");
    if (!(flops > 0)) {
      throw bad("tiling.flops-per-second", Double.toString(flops), "a positive number, e.g. 2e9");
    }
    String grouping = t.getString("grouping").trim();
    if (!grouping.equals(JobSpec.Tiling.BEST_GROUPING) && !grouping.equals(JobSpec.Tiling.FIXED_GROUPING)) {
      throw bad("tiling.grouping", grouping, JobSpec.Tiling.BEST_GROUPING + " or " + JobSpec.Tiling.FIXED_GROUPING);
    }
    if (devices.isEmpty() && count == 0) {
      return JobSpec.Tiling.NONE;
    }
    if (!c.getString("mode").trim().equalsIgnoreCase("dsparse")) {
      throw bad("tiling.count", Integer.toString(Math.max(count, devices.size())), "0 in mode "
          + c.getString("mode").trim() + " (a tile group takes part in DSparse's plan)");
    }
    return new JobSpec.Tiling(devices, devices.isEmpty() ? count : devices.size(), layers, flops, grouping);
  }

  /**
   * {@code submodels { compute-share, relevance-samples, statistics-samples, calibration-steps }},
   * read in every mode, used in mode submodels.
   */
  private static JobSpec.SubModels subModels(Config c) {
    Config m = c.getConfig("submodels");
    double share = m.getDouble("compute-share");
    if (!(share > 0 && share <= 1)) {
      throw bad("submodels.compute-share", Double.toString(share), "a share in (0, 1], e.g. 0.33");
    }
    int samples = m.getInt("relevance-samples");
    if (samples < 1) {
      throw bad("submodels.relevance-samples", Integer.toString(samples), "a positive number of images");
    }
    int statistics = m.getInt("statistics-samples");
    if (statistics < 1) {
      throw bad("submodels.statistics-samples", Integer.toString(statistics), "a positive number of images");
    }
    int calibration = m.getInt("calibration-steps");
    if (calibration < 0) {
      throw bad("submodels.calibration-steps", Integer.toString(calibration), "0 or more steps");
    }
    return new JobSpec.SubModels(share, samples, statistics, calibration);
  }

  private static String learningRateScaling(Config c) {
    String value = c.getString("learning-rate-scaling");
    if (!value.equals(JobSpec.NO_SCALING) && !value.equals(JobSpec.SQRT_UPDATER_SHARE)) {
      throw bad("learning-rate-scaling", value, JobSpec.NO_SCALING + " or " + JobSpec.SQRT_UPDATER_SHARE);
    }
    return value;
  }

  private static UsageException bad(String key, String value, String expected) {
    return new UsageException(PATH + "." + key + " = '" + value + "': expected " + expected);
  }

  private static int positive(Config c, String key) {
    int value = c.getInt(key);
    if (value <= 0) {
      throw bad(key, Integer.toString(value), "a positive whole number");
    }
    return value;
  }

  private static int nonNegativeInt(Config c, String key) {
    int value = c.getInt(key);
    if (value < 0) {
      throw bad(key, Integer.toString(value), "0 or a positive whole number");
    }
    return value;
  }

  private static double positiveDouble(Config c, String key) {
    double value = c.getDouble(key);
    if (!(value > 0)) {
      throw bad(key, Double.toString(value), "a positive number");
    }
    return value;
  }

  private static double nonNegative(Config c, String key) {
    double value = c.getDouble(key);
    if (!(value >= 0)) {
      throw bad("planner." + key, Double.toString(value), "a non-negative number");
    }
    return value;
  }

  private static double fraction(Config c, String key) {
    double value = c.getDouble(key);
    if (!(value >= 0 && value < 1)) {
      throw bad(key, Double.toString(value), "a fraction in [0, 1)");
    }
    return value;
  }

  private static Duration elasticDuration(Config c, String key) {
    Duration value = c.getDuration(key);
    if (value.isNegative() || value.isZero()) {
      throw bad("elastic." + key, value.toString(), "a positive duration");
    }
    return value;
  }

  private static boolean restoreFromShards(Config c) {
    String value = c.getString("restore-from");
    return switch (value) {
      case "shards" -> true;
      case "device" -> false;
      default -> throw bad("elastic.restore-from", value, "shards or device");
    };
  }

  private static int positiveInt(Config c, String key) {
    int value = c.getInt(key.substring(key.indexOf('.') + 1));
    if (value <= 0) {
      throw bad(key, Integer.toString(value), "a positive number");
    }
    return value;
  }

  private static Duration duration(Config c, String key) {
    Duration value = c.getDuration(key);
    if (value.isNegative() || value.isZero()) {
      throw bad("timeouts." + key, value.toString(), "a positive duration");
    }
    return value;
  }
}
