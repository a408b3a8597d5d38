package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Cifar10ReaderTest {
  @TempDir Path dir;

  /** Record {@code r} of a test file: label {@code labels[r]}, red plane = r, green = 100 + pixel % 7, blue = 200. */
  private static byte[] records(int... labels) {
    byte[] bytes = new byte[labels.length * 3073];
    for (int r = 0; r < labels.length; r++) {
      int offset = r * 3073;
      bytes[offset] = (byte) labels[r];
      for (int p = 0; p < 1024; p++) {
        bytes[offset + 1 + p] = (byte) r;
        bytes[offset + 1 + 1024 + p] = (byte) (100 + p % 7);
        bytes[offset + 1 + 2048 + p] = (byte) 200;
      }
    }
    return bytes;
  }

  private static String failure(Path file) {
    return assertThrows(DatasetFormatException.class, () -> Cifar10Reader.read(List.of(file))).getMessage();
  }

  @Test
  void readsRecordsOfSeveralFilesInOrderAsChw() throws IOException {
    Path first = Files.write(dir.resolve("data_batch_1.bin"), records(3, 9));
    Path second = Files.write(dir.resolve("data_batch_2.bin"), records(0));
    ImageSet set = Cifar10Reader.read(List.of(first, second));

    assertEquals(3, set.size());
    assertEquals(3, set.channels());
    assertEquals(32, set.height());
    assertEquals(32, set.width());
    assertArrayEquals(new int[] {3, 9, 0}, set.labels());
    byte[] secondImage = Arrays.copyOfRange(set.pixels(), 3072, 2 * 3072);
    assertEquals(1, secondImage[0], "red plane of record 1");
    assertEquals(1, secondImage[1023]);
    assertEquals(100, secondImage[1024], "green plane starts after 32x32 red values");
    assertEquals(100 + 1023 % 7, secondImage[2047]);
    assertEquals((byte) 200, secondImage[2048], "blue plane");
    assertEquals(0, set.pixels()[2 * 3072], "the first record of the second file follows");
  }

  @Test
  void readsGzippedStreams() throws IOException {
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(gz)) {
      out.write(records(1, 2, 3, 4));
    }
    ImageSet set = Cifar10Reader.read(new ByteArrayInputStream(gz.toByteArray()), "batch.bin");
    assertArrayEquals(new int[] {1, 2, 3, 4}, set.labels());
  }

  @Test
  void incompleteRecordNamesFileAndSizes() throws IOException {
    Path file = Files.write(dir.resolve("data_batch_1.bin"), Arrays.copyOf(records(1, 2), 3073 + 500));
    String message = failure(file);
    for (String part : List.of(file.toString(), "truncated", "3573 bytes", "1 whole records", "500 bytes", "record 2")) {
      assertTrue(message.contains(part), () -> "expected \"" + part + "\" in: " + message);
    }
  }

  @Test
  void labelBeyondTenNamesRecord() throws IOException {
    byte[] bytes = records(1, 2, 3);
    bytes[2 * 3073] = 42;
    Path file = Files.write(dir.resolve("test_batch.bin"), bytes);
    String message = failure(file);
    for (String part : List.of(file.toString(), "record 2", "label 42", "below 10")) {
      assertTrue(message.contains(part), () -> "expected \"" + part + "\" in: " + message);
    }
  }

  @Test
  void emptyFileIsRejected() throws IOException {
    Path file = Files.write(dir.resolve("test_batch.bin"), new byte[0]);
    assertTrue(failure(file).contains(file + ": is empty"));
  }

  @Test
  void loadsBothSplitsFromAFolder() throws IOException {
    for (int batch = 1; batch <= 5; batch++) {
      Files.write(dir.resolve("data_batch_" + batch + ".bin"), records(batch, batch));
    }
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(dir.resolve("test_batch.bin.gz")))) {
      out.write(records(7));
    }
    ImageSet train = DatasetKind.CIFAR10.load(dir, Split.TRAIN);
    assertArrayEquals(new int[] {1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, train.labels());
    assertArrayEquals(new int[] {7}, DatasetKind.CIFAR10.load(dir, Split.TEST).labels());
  }

  @Test
  void missingBatchNamesFileAndFolder() throws IOException {
    Files.write(dir.resolve("data_batch_1.bin"), records(1));
    DatasetFormatException e = assertThrows(DatasetFormatException.class,
        () -> DatasetKind.CIFAR10.load(dir, Split.TRAIN));
    assertTrue(e.getMessage().contains(dir.resolve("data_batch_2.bin") + ": missing"), e.getMessage());
  }
}
