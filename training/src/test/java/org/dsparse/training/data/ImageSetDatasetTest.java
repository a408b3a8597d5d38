package org.dsparse.training.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.dsparse.core.data.DatasetKind;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Normalization;
import org.dsparse.core.data.Split;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ImageSetDatasetTest {
  private NDManager manager;

  @BeforeEach
  void openManager() {
    manager = NDManager.newBaseManager("PyTorch");
  }

  @AfterEach
  void closeManager() {
    manager.close();
  }

  private static ImageSet randomImages(int size, int channels, int side, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] pixels = new byte[size * channels * side * side];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) random.nextInt(256);
    }
    int[] labels = IntStream.range(0, size).map(i -> i % 10).toArray();
    return new ImageSet(pixels, size, channels, side, side, labels, 10);
  }

  /** Upsampling repeats every pixel into a block, channel by channel: the same as NDArray's repeat. */
  @Test
  void upsamplingRepeatsEachPixelIntoABlock() {
    ImageSet images = randomImages(3, 3, 5, 7);
    ImageSetDataset plain = ImageSetDataset.builder().setImageSet(images).setSeededSampling(3, 1).build();
    ImageSetDataset up = ImageSetDataset.builder().setImageSet(images).optUpsample(3).setSeededSampling(3, 1).build();
    assertEquals(new Shape(3, 15, 15), up.imageShape());
    int[] all = {0, 1, 2};
    try (ImageBatch small = plain.batchOf(manager, all); ImageBatch large = up.batchOf(manager, all)) {
      NDArray expected = small.images().repeat(2, 3).repeat(3, 3);
      assertArrayEquals(expected.toFloatArray(), large.images().toFloatArray());
    }
    assertThrows(IllegalArgumentException.class,
        () -> ImageSetDataset.builder().setImageSet(images).optUpsample(2).optPadTo(12).setSeededSampling(3, 1).build());
  }

  @Test
  void embeddedSubsetGivesPaddedNormalizedFloatBatches() throws IOException {
    ImageSet train = EmbeddedFashionMnist.load(Split.TRAIN);
    Normalization normalization = DatasetKind.FASHION_MNIST.normalization();
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(train).optNormalization(normalization)
        .optPadTo(32).setSeededSampling(64, 1).build();

    ImageBatch batch = dataset.batches(manager, 64, 1, 0).iterator().next();
    assertEquals(new Shape(64, 1, 32, 32), batch.images().getShape());
    assertEquals(DataType.FLOAT32, batch.images().getDataType());
    assertEquals(new Shape(64), batch.labels().getShape());
    assertEquals(DataType.FLOAT32, batch.labels().getDataType());

    int first = batch.indices()[0];
    float[] image = batch.images().get(0).toFloatArray();
    float black = -normalization.mean()[0] / normalization.std()[0];
    assertEquals(black, image[0], 1e-6f, "padding is normalized black");
    assertEquals(black, image[32 * 31 + 31], 1e-6f);
    int row = 13;
    int col = 17;
    int pixel = train.pixels()[first * 784 + row * 28 + col] & 0xff;
    assertEquals((pixel / 255f - normalization.mean()[0]) / normalization.std()[0],
        image[(row + 2) * 32 + col + 2], 1e-5f, "image is centred in the padded square");
    assertEquals(train.labels()[first], batch.labels().getFloat(0));
    batch.close();
  }

  @Test
  void everySampleAppearsOncePerEpochAndTheLastBatchHoldsTheRest() {
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(randomImages(70, 1, 4, 1))
        .setSeededSampling(32, 9).build();
    List<Integer> sizes = new ArrayList<>();
    List<Integer> seen = new ArrayList<>();
    for (ImageBatch batch : dataset.batches(manager, 32, 9, 0)) {
      sizes.add(batch.size());
      Arrays.stream(batch.indices()).forEach(seen::add);
      assertEquals(batch.size(), batch.images().getShape().get(0));
      batch.close();
    }
    assertEquals(List.of(32, 32, 6), sizes);
    assertEquals(3, dataset.batchCount(32));
    assertArrayEquals(IntStream.range(0, 70).toArray(), seen.stream().mapToInt(Integer::intValue).sorted().toArray());
  }

  @Test
  void orderDependsOnlyOnSeedAndEpoch() {
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(randomImages(50, 1, 4, 1))
        .setSeededSampling(50, 3).build();
    int[] epoch0 = dataset.batches(manager, 50, 3, 0).iterator().next().indices();
    assertArrayEquals(epoch0, dataset.batches(manager, 50, 3, 0).iterator().next().indices());
    assertFalse(Arrays.equals(epoch0, dataset.batches(manager, 50, 3, 1).iterator().next().indices()));
    assertFalse(Arrays.equals(epoch0, dataset.batches(manager, 50, 4, 0).iterator().next().indices()));
  }

  @Test
  void djlGetDataStacksRecordsInTheSameSeededOrder() throws Exception {
    ImageSet set = randomImages(40, 3, 32, 2);
    Normalization normalization = DatasetKind.CIFAR10.normalization();
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(set).optNormalization(normalization)
        .setSeededSampling(16, 5).build();
    List<Float> djlLabels = new ArrayList<>();
    float[] djlFirstImage = null;
    for (Batch batch : dataset.getData(manager)) {
      NDArray x = batch.getData().singletonOrThrow();
      NDArray y = batch.getLabels().singletonOrThrow();
      assertEquals(new Shape(batch.getSize(), 3, 32, 32), x.getShape());
      assertEquals(new Shape(batch.getSize()), y.getShape());
      if (djlFirstImage == null) {
        djlFirstImage = x.get(0).toFloatArray();
      }
      for (float label : y.toFloatArray()) {
        djlLabels.add(label);
      }
      batch.close();
    }
    List<Float> directLabels = new ArrayList<>();
    float[] directFirstImage = null;
    for (ImageBatch batch : dataset.batches(manager, 16, 5, 0)) {
      if (directFirstImage == null) {
        directFirstImage = batch.images().get(0).toFloatArray();
      }
      for (float label : batch.labels().toFloatArray()) {
        directLabels.add(label);
      }
      batch.close();
    }
    assertEquals(40, djlLabels.size());
    assertEquals(directLabels, djlLabels, "the first DJL epoch is epoch 0 of batches()");
    assertArrayEquals(directFirstImage, djlFirstImage, 1e-6f);
  }

  @Test
  void eachColourChannelHasItsOwnNormalization() {
    byte[] pixels = new byte[3 * 2 * 2];
    Arrays.fill(pixels, (byte) 255);
    ImageSet white = new ImageSet(pixels, 1, 3, 2, 2, new int[] {4}, 10);
    Normalization normalization = new Normalization(new float[] {0f, 0.5f, 1f}, new float[] {1f, 0.5f, 2f});
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(white).optNormalization(normalization)
        .setSeededSampling(1, 0).build();
    try (ImageBatch batch = dataset.batchOf(manager, new int[] {0})) {
      assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, batch.images().toFloatArray(), 1e-6f);
    }
  }

  @Test
  void labelsFeedSparseSoftmaxCrossEntropy() {
    ImageSetDataset dataset = ImageSetDataset.builder().setImageSet(randomImages(8, 1, 4, 3))
        .setSeededSampling(8, 0).build();
    try (ImageBatch batch = dataset.batchOf(manager, new int[] {0, 1, 2, 3})) {
      // logits strongly favouring the true class give a near-zero loss, wrong ones a large loss
      NDArray right = manager.eye(10).get(batch.labels().toType(DataType.INT64, false)).mul(20);
      NDArray wrong = right.neg();
      float lossRight = Loss.softmaxCrossEntropyLoss().evaluate(batch.targets(), new NDList(right)).getFloat();
      float lossWrong = Loss.softmaxCrossEntropyLoss().evaluate(batch.targets(), new NDList(wrong)).getFloat();
      assertTrue(lossRight < 1e-3, "loss with the true class favoured: " + lossRight);
      assertTrue(lossWrong > 20, "loss with the true class disfavoured: " + lossWrong);
    }
  }

  @Test
  void builderNamesWhatIsWrong() {
    ImageSet set = randomImages(4, 1, 28, 1);
    assertTrue(assertThrows(IllegalStateException.class,
        () -> ImageSetDataset.builder().setSeededSampling(2, 0).build()).getMessage().contains("setImageSet"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> ImageSetDataset.builder().setImageSet(set)
        .optNormalization(DatasetKind.CIFAR10.normalization()).setSeededSampling(2, 0).build())
        .getMessage().contains("3 channels but the images have 1"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> ImageSetDataset.builder().setImageSet(set)
        .optPadTo(16).setSeededSampling(2, 0).build()).getMessage().contains("smaller 16x16"));
  }
}
