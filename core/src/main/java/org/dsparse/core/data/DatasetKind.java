package org.dsparse.core.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The datasets dsparse reads from disk: their file names, class names and usual normalization. */
public enum DatasetKind {
  /** Zalando's Fashion-MNIST: 28x28 grey clothing images, 60000 train and 10000 test, IDX files. */
  FASHION_MNIST("Fashion-MNIST", "fashion-mnist",
      List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
      List.of("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
      List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"),
      new Normalization(new float[] {0.2860f}, new float[] {0.3530f})),

  /** CIFAR-10: 32x32 colour images, 50000 train (five batches) and 10000 test, binary version. */
  CIFAR10("CIFAR-10", "cifar-10-batches-bin",
      List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"),
      List.of("test_batch.bin"),
      List.of("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
      new Normalization(new float[] {0.4914f, 0.4822f, 0.4465f}, new float[] {0.2470f, 0.2435f, 0.2616f}));

  private final String displayName;
  private final String conventionalFolder;
  private final List<String> trainFiles;
  private final List<String> testFiles;
  private final List<String> classNames;
  private final Normalization normalization;

  DatasetKind(String displayName, String conventionalFolder, List<String> trainFiles, List<String> testFiles,
      List<String> classNames, Normalization normalization) {
    this.displayName = displayName;
    this.conventionalFolder = conventionalFolder;
    this.trainFiles = trainFiles;
    this.testFiles = testFiles;
    this.classNames = classNames;
    this.normalization = normalization;
  }

  public String displayName() {
    return displayName;
  }

  /** The sub-folder name the dataset's own archive unpacks to; a user folder may contain it. */
  public String conventionalFolder() {
    return conventionalFolder;
  }

  /** File names of a split as distributed, without ".gz" (either form is accepted). */
  public List<String> files(Split split) {
    return split == Split.TRAIN ? trainFiles : testFiles;
  }

  public List<String> classNames() {
    return classNames;
  }

  public int classes() {
    return classNames.size();
  }

  /** Per-channel mean and std of the training images, as commonly published for this dataset. */
  public Normalization normalization() {
    return normalization;
  }

  /** The file holding {@code name} in {@code folder}: {@code name} itself or {@code name.gz}. */
  public static Optional<Path> find(Path folder, String name) {
    for (Path candidate : List.of(folder.resolve(name), folder.resolve(name + ".gz"))) {
      if (Files.isRegularFile(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /** Names of this dataset's files (both splits) that {@code folder} lacks. */
  public List<String> missingFiles(Path folder) {
    List<String> missing = new ArrayList<>();
    for (Split split : Split.values()) {
      for (String name : files(split)) {
        if (find(folder, name).isEmpty()) {
          missing.add(name + "[.gz]");
        }
      }
    }
    return missing;
  }

  /** Reads one split from {@code folder}, which must hold its files (see {@link DatasetLocator}). */
  public ImageSet load(Path folder, Split split) throws IOException {
    List<Path> paths = new ArrayList<>();
    for (String name : files(split)) {
      paths.add(find(folder, name).orElseThrow(() -> new DatasetFormatException(folder.resolve(name).toString(),
          "missing: " + displayName + " " + split.name().toLowerCase() + " data needs this file (or " + name
              + ".gz) in " + folder)));
    }
    return switch (this) {
      case FASHION_MNIST -> IdxReader.read(paths.get(0), paths.get(1), classes());
      case CIFAR10 -> Cifar10Reader.read(paths);
    };
  }
}
