package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The full dataset from Debian's dataset-fashion-mnist package; skipped where it is not installed. */
class InstalledFashionMnistTest {

  @Test
  void loadsAllSixtyThousandTrainAndTenThousandTestImages() throws IOException {
    DatasetLocator locator = DatasetLocator.standard();
    assumeTrue(locator.isInstalled(DatasetKind.FASHION_MNIST), "dataset-fashion-mnist is not installed");
    Path folder = locator.locateInstalled(DatasetKind.FASHION_MNIST);

    ImageSet train = DatasetKind.FASHION_MNIST.load(folder, Split.TRAIN);
    assertEquals(60_000, train.size());
    assertEquals(28, train.height());
    assertEquals(28, train.width());
    int[] sixThousandEach = new int[10];
    Arrays.fill(sixThousandEach, 6_000);
    assertArrayEquals(sixThousandEach, train.classCounts());

    ImageSet test = DatasetKind.FASHION_MNIST.load(folder, Split.TEST);
    assertEquals(10_000, test.size());
    int[] thousandEach = new int[10];
    Arrays.fill(thousandEach, 1_000);
    assertArrayEquals(thousandEach, test.classCounts());

    Normalization measured = Normalization.measure(train);
    assertEquals(DatasetKind.FASHION_MNIST.normalization().mean()[0], measured.mean()[0], 1e-3);
    assertEquals(DatasetKind.FASHION_MNIST.normalization().std()[0], measured.std()[0], 1e-3);
  }
}
