package org.dsparse.training.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.Arrays;
import org.dsparse.core.data.DatasetKind;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Normalization;
import org.dsparse.core.data.Split;
import org.junit.jupiter.api.Test;

class EmbeddedFashionMnistTest {

  private static int[] repeated(int value) {
    int[] counts = new int[10];
    Arrays.fill(counts, value);
    return counts;
  }

  @Test
  void trainSplitHasFourHundredImagesOfEachClass() throws IOException {
    ImageSet train = EmbeddedFashionMnist.load(Split.TRAIN);
    assertEquals(4000, train.size());
    assertEquals(1, train.channels());
    assertEquals(28, train.height());
    assertEquals(28, train.width());
    assertArrayEquals(repeated(400), train.classCounts());
  }

  @Test
  void testSplitHasOneHundredImagesOfEachClass() throws IOException {
    assertArrayEquals(repeated(100), EmbeddedFashionMnist.load(Split.TEST).classCounts());
  }

  @Test
  void pixelsLookLikeFashionMnist() throws IOException {
    Normalization measured = Normalization.measure(EmbeddedFashionMnist.load(Split.TRAIN));
    Normalization published = DatasetKind.FASHION_MNIST.normalization();
    assertEquals(published.mean()[0], measured.mean()[0], 0.01);
    assertEquals(published.std()[0], measured.std()[0], 0.01);
  }
}
