package org.dsparse.core.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Regenerates the Fashion-MNIST subset embedded in the training jar: a class-balanced, seeded
 * random sample of each split, written as gzipped IDX so the ordinary reader loads it.
 *
 * <p>Usage: {@code EmbeddedSubsetMaker <fashion-mnist folder> <output folder> [train per class]
 * [test per class] [seed]}; the defaults (400, 100, 2017) give the committed 4000 + 1000 images.
 */
public final class EmbeddedSubsetMaker {
  static final int DEFAULT_TRAIN_PER_CLASS = 400;
  static final int DEFAULT_TEST_PER_CLASS = 100;
  static final long DEFAULT_SEED = 2017;

  private EmbeddedSubsetMaker() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2 || args.length > 5) {
      System.err.println("usage: EmbeddedSubsetMaker <fashion-mnist folder> <output folder>"
          + " [train per class, default " + DEFAULT_TRAIN_PER_CLASS + "] [test per class, default "
          + DEFAULT_TEST_PER_CLASS + "] [seed, default " + DEFAULT_SEED + "]");
      System.exit(2);
    }
    Path source = new DatasetLocator(Map.of()).locate(DatasetKind.FASHION_MNIST, Path.of(args[0]));
    Path output = Path.of(args[1]);
    int trainPerClass = args.length > 2 ? Integer.parseInt(args[2]) : DEFAULT_TRAIN_PER_CLASS;
    int testPerClass = args.length > 3 ? Integer.parseInt(args[3]) : DEFAULT_TEST_PER_CLASS;
    long seed = args.length > 4 ? Long.parseLong(args[4]) : DEFAULT_SEED;
    Files.createDirectories(output);
    for (Split split : Split.values()) {
      ImageSet full = DatasetKind.FASHION_MNIST.load(source, split);
      int perClass = split == Split.TRAIN ? trainPerClass : testPerClass;
      ImageSet subset = full.subset(balancedSample(full.labels(), full.classes(), perClass, seed));
      var names = DatasetKind.FASHION_MNIST.files(split);
      IdxWriter.write(subset, output.resolve(names.get(0) + ".gz"), output.resolve(names.get(1) + ".gz"), true);
      System.out.println(split + ": " + subset);
    }
  }

  /**
   * {@code perClass} randomly chosen indices of every class, in a seeded random order so the
   * classes are interleaved as in the original files.
   */
  static int[] balancedSample(int[] labels, int classes, int perClass, long seed) {
    int[] chosen = new int[classes * perClass];
    int filled = 0;
    int[] order = EpochOrder.permutation(labels.length, seed, 0);
    int[] taken = new int[classes];
    for (int index : order) {
      if (taken[labels[index]] < perClass) {
        taken[labels[index]]++;
        chosen[filled++] = index;
      }
    }
    for (int c = 0; c < classes; c++) {
      if (taken[c] < perClass) {
        throw new IllegalArgumentException("class " + c + " has only " + taken[c] + " samples, " + perClass
            + " were asked for");
      }
    }
    return chosen;
  }
}
