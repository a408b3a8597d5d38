package org.dsparse.training.profile;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.dsparse.core.cli.Flags;
import org.dsparse.training.model.Shapes;
import org.dsparse.core.cli.Table;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.memory.Calibration;
import org.dsparse.core.memory.MemoryCoefficients;
import org.dsparse.core.memory.MemoryEstimate;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.memory.UpdateSet;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;

/**
 * {@code profile}: measures the training memory of layer sets in child JVMs and prints it beside the
 * memory model's prediction; with {@code --calibrate}, fits the model's coefficients to the runs.
 */
public final class ProfileCommand {
  static final String USAGE = """
      usage: profile [--model mobilenetv2|small-cnn] [--sample 1x28x28] [--classes 10]
                     [--batch 64] [--update all|last:K|from:LAYER|LAYER,LAYER...]
                     [--optimizer sgd|sgd-momentum|adam] [--steps 3] [--prefix-micro-batch 0]
             profile --calibrate [--batches 16,48] [--updates all,last:1,ir8+classifier,...] (same model flags)
      Runs each configuration in its own JVM and prints predicted beside measured memory.""";

  private ProfileCommand() {}

  public static void main(String[] args) {
    try {
      run(args);
    } catch (UsageException | IllegalArgumentException e) {
      System.err.println("profile: " + e.getMessage());
      System.exit(2);
    }
  }

  /** One measured configuration with the model's prediction for it. */
  public record Row(ProfileRequest request, UpdateSet update, MemoryEstimate predicted,
      MemoryModel model, ProfileResult measured) {
    /** The same measurement predicted under other coefficients. */
    Row recalibrated(MemoryCoefficients coefficients) {
      MemoryModel other = model.withCoefficients(coefficients);
      return new Row(request, update, other.predict(update, request.batch(), request.optimizer()),
          other, measured);
    }

    double relativeError() {
      return (predicted.totalBytes() - measured.measuredBytes()) / (double) measured.measuredBytes();
    }
  }

  public static void run(String[] args) {
    Flags flags = Flags.parse("profile", args,
        Set.of("model", "sample", "classes", "batch", "update", "optimizer", "steps", "batches",
            "updates", "prefix-micro-batch"),
        Set.of("calibrate", "help"));
    if (flags.has("help")) {
      System.out.println(USAGE);
      return;
    }
    ProfileRequest base = new ProfileRequest(
        flags.get("model", "mobilenetv2"),
        Shapes.parse(flags.get("sample", "1x28x28")),
        flags.getInt("classes", 10),
        flags.getInt("batch", 64),
        flags.get("update", "all"),
        OptimizerKind.parse(flags.get("optimizer", "sgd-momentum")),
        flags.getInt("steps", 3),
        flags.getInt("prefix-micro-batch", 0));
    MemoryCoefficients configured = MemoryModels.coefficients(ConfigFactory.load());
    if (!flags.has("calibrate")) {
      Row row = measure(base, configured);
      System.out.print(table(List.of(row)));
      return;
    }
    List<ProfileRequest> grid = new ArrayList<>();
    for (int batch : flags.getInts("batches", List.of(16, 48))) {
      for (String update : flags.get("updates", "all,last:1,last:2,last:4,last:6,last:10,from:ir2,ir8+classifier,ir3+ir17,stem+conv_last")
          .split(",")) {
        // '+' joins layer names inside one list entry, since ',' separates the entries
        grid.add(base.withBatch(batch).withUpdate(update.trim().replace('+', ',')));
      }
    }
    List<Row> rows = new ArrayList<>();
    for (ProfileRequest request : grid) {
      rows.add(measure(request, configured));
      System.err.printf(Locale.ROOT, "measured %s batch %d: %s MiB%n", request.update(),
          request.batch(), Table.mib(rows.get(rows.size() - 1).measured().measuredBytes()));
    }
    MemoryCoefficients fitted = Calibration.fit(samples(rows));
    System.out.print(table(rows.stream().map(r -> r.recalibrated(fitted)).toList()));
    System.out.printf(Locale.ROOT, "# fitted on %d runs of %s %s; worst error %.1f%% (was %.1f%%)%n",
        rows.size(), base.model(), Shapes.format(base.sampleShape()),
        100 * Calibration.worstRelativeError(samples(rows), fitted),
        100 * Calibration.worstRelativeError(samples(rows), configured));
    System.out.printf(Locale.ROOT, """
        dsparse.memory-model {
          updated-activation-factor = %.4f
          pass-through-activation-factor = %.4f
          transient-factor = %.4f
          prefix-peak-factor = %.4f
          fixed-overhead = %d
        }
        """, fitted.updatedActivationFactor(), fitted.passThroughActivationFactor(),
        fitted.transientFactor(), fitted.prefixPeakFactor(), fitted.fixedOverheadBytes());
  }

  /** Measures one configuration in a child JVM and predicts it with {@code coefficients}. */
  public static Row measure(ProfileRequest request, MemoryCoefficients coefficients) {
    MemoryModel model = DjlThread.call(() -> {
      try (LayeredModel layered = Models.create(request.model(), request.sampleShape(),
          request.classes(), 0)) {
        return new MemoryModel(layered.layerCosts(), coefficients)
            .withFrozenPrefixMicroBatch(request.frozenPrefixMicroBatch());
      }
    });
    List<String> names = model.layers().stream().map(l -> l.name()).toList();
    UpdateSet update = UpdateSet.parse(request.update(), names);
    MemoryEstimate predicted = model.predict(update, request.batch(), request.optimizer());
    return new Row(request, update, predicted, model, MemoryProfiler.measure(request));
  }

  static List<Calibration.Measured> samples(List<Row> rows) {
    return rows.stream().map(r -> new Calibration.Measured(
        r.model().calibrationRow(r.update(), r.request().batch(), r.request().optimizer()),
        r.measured().measuredBytes())).toList();
  }

  /** Predicted (with its parts) beside measured, in MiB. */
  public static String table(List<Row> rows) {
    Table table = new Table("batch", "update", "layers", "params", "weights", "grads", "optim",
        "activ", "temp", "overhead", "predicted", "measured", "error");
    for (Row r : rows) {
      MemoryEstimate p = r.predicted();
      table.row(r.request().batch(), r.request().update(), r.update().count(),
          r.measured().updatedParams(), Table.mib(p.weightBytes()), Table.mib(p.gradientBytes()),
          Table.mib(p.optimizerStateBytes()), Table.mib(p.activationBytes()),
          Table.mib(p.transientBytes()), Table.mib(p.overheadBytes()), Table.mib(p.totalBytes()),
          Table.mib(r.measured().measuredBytes()),
          String.format(Locale.ROOT, "%+.1f%%", 100 * r.relativeError()));
    }
    return table.toString();
  }
}
