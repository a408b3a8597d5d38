package org.dsparse.training.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.DatasetKind;
import org.dsparse.core.data.IdxWriter;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataSourceTest {
  @TempDir Path dir;

  @Test
  void parsesEveryForm() {
    assertEquals(new DataSource.Embedded(), DataSource.parse("embedded", "test"));
    assertEquals(new DataSource.Installed(DatasetKind.FASHION_MNIST), DataSource.parse(" Fashion-MNIST ", "test"));
    assertEquals(new DataSource.Folder(DatasetKind.CIFAR10, Path.of("/data/cifar")),
        DataSource.parse("cifar10:/data/cifar", "test"));
    assertEquals("cifar10:/data/cifar", DataSource.parse("cifar10:/data/cifar", "test").toString());
  }

  @Test
  void rejectsUnknownSourcesNamingWhereTheyCameFrom() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> DataSource.parse("mnist", "dsparse.data.source")).getMessage();
    assertTrue(message.startsWith("dsparse.data.source: unknown data source \"mnist\""), message);
    assertTrue(message.contains(DataSource.FORMS), message);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> DataSource.parse("cifar10:", "flag --data"))
        .getMessage().contains("names no folder"));
  }

  @Test
  void loadsFromAUserFolder() throws IOException {
    ImageSet test = EmbeddedFashionMnist.load(Split.TEST);
    ImageSet train = EmbeddedFashionMnist.load(Split.TRAIN).subset(new int[] {5, 6, 7});
    IdxWriter.write(train, dir.resolve("train-images-idx3-ubyte"), dir.resolve("train-labels-idx1-ubyte"), false);
    IdxWriter.write(test, dir.resolve("t10k-images-idx3-ubyte.gz"), dir.resolve("t10k-labels-idx1-ubyte.gz"), true);
    DataSource source = DataSource.parse("fashion-mnist:" + dir, "test");
    assertEquals(train, source.load(Split.TRAIN));
    assertEquals(test, source.load(Split.TEST));
  }

  @Test
  void folderWithoutTheDatasetSaysWhatIsMissing() {
    DataSource source = DataSource.parse("cifar10:" + dir, "test");
    String message = assertThrows(UsageException.class, () -> source.load(Split.TRAIN)).getMessage();
    assertTrue(message.contains(dir + " (missing data_batch_1.bin[.gz]"), message);
  }

  @Test
  void aBrokenFileIsOneUsageErrorNamingIt() throws IOException {
    ImageSet test = EmbeddedFashionMnist.load(Split.TEST);
    IdxWriter.write(test, dir.resolve("train-images-idx3-ubyte"), dir.resolve("train-labels-idx1-ubyte"), false);
    IdxWriter.write(test, dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("t10k-labels-idx1-ubyte"), false);
    Files.write(dir.resolve("t10k-labels-idx1-ubyte"), new byte[] {0, 0, 8, 3, 0, 0, 0, 1});
    DataSource source = DataSource.parse("fashion-mnist:" + dir, "test");
    String message = assertThrows(UsageException.class, () -> source.load(Split.TEST)).getMessage();
    assertTrue(message.startsWith(dir.resolve("t10k-labels-idx1-ubyte") + ": magic number 0x00000803"), message);
  }
}
