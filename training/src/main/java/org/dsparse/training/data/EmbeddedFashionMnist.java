package org.dsparse.training.data;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.dsparse.core.data.DatasetKind;
import org.dsparse.core.data.IdxReader;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;

/**
 * The class-balanced Fashion-MNIST subset in this jar (4000 train, 1000 test images; MIT licence,
 * Copyright (c) 2017 Zalando SE; see {@code datasets/fashion-mnist-subset/NOTICE}). It lets the
 * demo and the tests train on real images with nothing installed.
 */
public final class EmbeddedFashionMnist {
  /** Classpath folder of the gzipped IDX files. */
  public static final String RESOURCE_FOLDER = "/datasets/fashion-mnist-subset/";

  private EmbeddedFashionMnist() {}

  public static ImageSet load(Split split) throws IOException {
    List<String> names = DatasetKind.FASHION_MNIST.files(split);
    String images = RESOURCE_FOLDER + names.get(0) + ".gz";
    String labels = RESOURCE_FOLDER + names.get(1) + ".gz";
    return IdxReader.read(open(images), "classpath:" + images, open(labels), "classpath:" + labels,
        DatasetKind.FASHION_MNIST.classes());
  }

  private static InputStream open(String resource) throws IOException {
    InputStream stream = EmbeddedFashionMnist.class.getResourceAsStream(resource);
    if (stream == null) {
      throw new IOException("classpath:" + resource + " is missing; the dsparse-training jar should contain it"
          + " (regenerate it with tools/make-embedded-subset)");
    }
    return stream;
  }
}
