package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetLocatorTest {
  @TempDir Path dir;

  private static void touchAll(Path folder, DatasetKind kind, String suffix) throws IOException {
    Files.createDirectories(folder);
    for (Split split : Split.values()) {
      for (String name : kind.files(split)) {
        Files.write(folder.resolve(name + suffix), new byte[] {0});
      }
    }
  }

  @Test
  void findsTheUserFolderWithPlainOrGzippedFiles() throws IOException {
    touchAll(dir, DatasetKind.FASHION_MNIST, ".gz");
    Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
    Files.write(dir.resolve("t10k-labels-idx1-ubyte"), new byte[] {0});
    assertEquals(dir, new DatasetLocator(Map.of()).locate(DatasetKind.FASHION_MNIST, dir));
  }

  @Test
  void findsTheConventionalSubFolder() throws IOException {
    touchAll(dir.resolve("cifar-10-batches-bin"), DatasetKind.CIFAR10, "");
    assertEquals(dir.resolve("cifar-10-batches-bin"), new DatasetLocator(Map.of()).locate(DatasetKind.CIFAR10, dir));
  }

  @Test
  void incompleteFolderNamesTheMissingFilesAndEveryFolderTried() throws IOException {
    touchAll(dir, DatasetKind.CIFAR10, "");
    Files.delete(dir.resolve("data_batch_4.bin"));
    String message = assertThrows(DatasetLocator.DatasetNotFoundException.class,
        () -> new DatasetLocator(Map.of()).locate(DatasetKind.CIFAR10, dir)).getMessage();
    assertTrue(message.contains(dir + " (missing data_batch_4.bin[.gz])"), message);
    assertTrue(message.contains(dir.resolve("cifar-10-batches-bin") + " (not a folder)"), message);
  }

  @Test
  void systemFoldersAreSearchedInOrder() throws IOException {
    Path empty = dir.resolve("empty");
    Files.createDirectories(empty);
    Path installed = dir.resolve("installed");
    touchAll(installed, DatasetKind.FASHION_MNIST, ".gz");
    DatasetLocator locator = new DatasetLocator(Map.of(DatasetKind.FASHION_MNIST, List.of(empty, installed)));
    assertEquals(installed, locator.locateInstalled(DatasetKind.FASHION_MNIST));
    assertTrue(locator.isInstalled(DatasetKind.FASHION_MNIST));
    assertFalse(locator.isInstalled(DatasetKind.CIFAR10));
  }

  @Test
  void nothingInstalledSaysHowToGetIt() {
    DatasetLocator locator = new DatasetLocator(Map.of(DatasetKind.FASHION_MNIST, List.of(dir.resolve("nowhere"))));
    String message = assertThrows(DatasetLocator.DatasetNotFoundException.class,
        () -> locator.locateInstalled(DatasetKind.FASHION_MNIST)).getMessage();
    assertTrue(message.contains("Fashion-MNIST"), message);
    assertTrue(message.contains(dir.resolve("nowhere") + " (not a folder)"), message);
    assertTrue(message.contains("apt-get install dataset-fashion-mnist"), message);
  }
}
