package org.dsparse.training.submodel;

import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.core.submodel.SubModelSpec;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;

/**
 * How large a device's sub-model can be: the largest share of every layer's filters (in eighths,
 * down to one eighth) whose training fits the device's memory budget, as the memory model predicts
 * it for the narrow network, and whose computation per sample is at most a share of the full
 * model's. The filters kept are the most relevant to the device's classes; every convolution but
 * the first keeps a multiple of {@link #FILTER_MULTIPLE}.
 */
public final class SubModelSizing {
  /** The shares of filters tried, largest first. */
  private static final int EIGHTHS = 8;

  /**
   * Why a multiple of 16: PyTorch 2.7.1's CPU backward of a 3 x 3 convolution reads memory it never
   * wrote when computing the gradient of its input, unless the convolution has a multiple of 16
   * output channels (measured on x86-64 with AVX-512; 8, 12 and 24 are affected). The gradient of
   * the layer below then holds whatever that memory held: NaN at random steps, depending on what
   * was freed there before. A sub-model's first convolution is exempt: the images need no
   * gradient. The full models here (16, 32, 64 filters; MobileNetV2's 3 x 3 convolutions are
   * depthwise or read the images) are not affected. {@code SubModelSizingTest} checks both sides.
   */
  public static final int FILTER_MULTIPLE = 16;

  private SubModelSizing() {}

  /**
   * A device's sub-model and what it costs.
   *
   * @param spec its filters and classes
   * @param keep the share of every layer's filters it keeps
   * @param predictedPeakBytes the memory model's prediction for training it
   * @param multiplyAdds its forward's multiply-adds per sample
   * @param fullMultiplyAdds the full model's
   */
  public record Sized(SubModelSpec spec, double keep, long predictedPeakBytes, long multiplyAdds,
      long fullMultiplyAdds) {
    /** Its computation against the full model's. */
    public double computeShare() {
      return (double) multiplyAdds / fullMultiplyAdds;
    }
  }

  /**
   * The largest sub-model of {@code full} for {@code classes} that fits {@code budgetBytes} and
   * {@code maxComputeShare} of the full model's computation. DJL thread.
   *
   * @param relevance each filter's relevance to each class ({@link SubModels#relevance})
   * @param memory the full model's memory model (its coefficients are used for the narrow one)
   * @throws IllegalArgumentException when not even an eighth of the filters fits, naming the budget
   */
  public static Sized size(LayeredModel full, double[][][] relevance, int[] classes, long budgetBytes,
      double maxComputeShare, MemoryModel memory, int batch, OptimizerKind optimizer) {
    if (!(maxComputeShare > 0 && maxComputeShare <= 1)) {
      throw new IllegalArgumentException("a sub-model's share of the full model's computation must be in (0, 1], got "
          + maxComputeShare);
    }
    int[] fullWidths = new int[full.layerCount() - 1];
    for (int l = 0; l < fullWidths.length; l++) {
      fullWidths[l] = full.layer(l).outputChannels();
    }
    long fullMultiplyAdds = SubModels.multiplyAdds(full, fullWidths, full.classes());
    long smallestPeak = Long.MAX_VALUE;
    for (int eighths = EIGHTHS; eighths >= 1; eighths--) {
      double keep = (double) eighths / EIGHTHS;
      SubModelSpec spec = SubModelSpec.mostRelevant(relevance, classes, keep, filterMultiples(fullWidths.length));
      long multiplyAdds = SubModels.multiplyAdds(full, spec.widths(), classes.length);
      long peak;
      try (LayeredModel narrow = Models.narrow(full.name(), full.sampleShape(), spec.widths(), classes.length, 0)) {
        peak = memory.withLayers(narrow.layerCosts()).fullUpdateBytes(batch, optimizer);
      }
      smallestPeak = Math.min(smallestPeak, peak);
      if (peak <= budgetBytes && multiplyAdds <= maxComputeShare * fullMultiplyAdds) {
        return new Sized(spec, keep, peak, multiplyAdds, fullMultiplyAdds);
      }
    }
    throw new IllegalArgumentException("no sub-model of " + full.name() + " fits: the smallest needs "
        + smallestPeak + " bytes (budget " + budgetBytes + ") or more than " + maxComputeShare
        + " of its computation");
  }

  /** Per convolution layer, the multiple of filters a sub-model keeps: 1 for the first, {@link #FILTER_MULTIPLE} above. */
  public static int[] filterMultiples(int convolutions) {
    int[] multiples = new int[convolutions];
    java.util.Arrays.fill(multiples, FILTER_MULTIPLE);
    multiples[0] = 1;
    return multiples;
  }
}
