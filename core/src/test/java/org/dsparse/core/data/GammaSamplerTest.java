package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GammaSamplerTest {

  @Test
  void gammaVariatesHaveMeanAndVarianceEqualToTheShape() {
    for (double shape : new double[] {0.3, 1, 2.5, 9}) {
      GammaSampler sampler = new GammaSampler(new SplittableRandom(7));
      int draws = 200_000;
      double sum = 0;
      double squares = 0;
      for (int i = 0; i < draws; i++) {
        double x = Math.exp(sampler.logGamma(shape));
        sum += x;
        squares += x * x;
      }
      double mean = sum / draws;
      double variance = squares / draws - mean * mean;
      assertEquals(shape, mean, 0.02 * shape + 0.005, "mean at shape " + shape);
      assertEquals(shape, variance, 0.05 * shape + 0.01, "variance at shape " + shape);
    }
  }

  @Test
  void dirichletProportionsSumToOneEvenForTinyAlpha() {
    GammaSampler sampler = new GammaSampler(new SplittableRandom(1));
    for (double alpha : new double[] {0.001, 0.1, 1, 100}) {
      double[] p = sampler.symmetricDirichlet(alpha, 20);
      assertEquals(1.0, Arrays.stream(p).sum(), 1e-9);
      assertTrue(Arrays.stream(p).allMatch(x -> x >= 0 && Double.isFinite(x)));
    }
  }

  @Test
  void dirichletComponentMeanIsOneOverSize() {
    GammaSampler sampler = new GammaSampler(new SplittableRandom(2));
    double first = 0;
    for (int i = 0; i < 20_000; i++) {
      first += sampler.symmetricDirichlet(0.5, 4)[0];
    }
    assertEquals(0.25, first / 20_000, 0.01);
  }
}
