package org.dsparse.core.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

class IdxReaderTest {
  @TempDir Path dir;

  private final ImageSet set = TestImages.random(37, 1, 28, 28, 10, 5);

  private Path images;
  private Path labels;

  private void write(boolean gzip) throws IOException {
    images = dir.resolve("images" + (gzip ? ".gz" : ""));
    labels = dir.resolve("labels" + (gzip ? ".gz" : ""));
    IdxWriter.write(set, images, labels, gzip);
  }

  private static String failure(Executable read) {
    DatasetFormatException e = assertThrows(DatasetFormatException.class, read);
    return e.getMessage();
  }

  private static void assertMentions(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), () -> "expected \"" + part + "\" in: " + message);
    }
  }

  @Test
  void readsGzippedFilesBack() throws IOException {
    write(true);
    assertEquals(set, IdxReader.read(images, labels, 10));
  }

  @Test
  void readsPlainFilesBack() throws IOException {
    write(false);
    assertEquals(set, IdxReader.read(images, labels, 10));
  }

  @Test
  void detectsGzipByContentNotName() throws IOException {
    write(true);
    Path gzNamedPlain = dir.resolve("plain.gz");
    Path plainNamedGz = dir.resolve("gzipped.idx");
    Files.move(images, plainNamedGz);
    IdxWriter.write(set, gzNamedPlain, dir.resolve("l"), false);
    assertEquals(set, IdxReader.read(plainNamedGz, labels, 10));
    assertEquals(set, IdxReader.read(gzNamedPlain, labels, 10));
  }

  @Test
  void readsStreamsNamedByTheCaller() throws IOException {
    write(true);
    ImageSet read = IdxReader.read(Files.newInputStream(images), "res:images", Files.newInputStream(labels),
        "res:labels", 10);
    assertEquals(set, read);
    byte[] truncated = Arrays.copyOf(Files.readAllBytes(dir.resolve("labels.gz")), 0);
    String message = failure(() -> IdxReader.read(Files.newInputStream(images), "res:images",
        new ByteArrayInputStream(truncated), "res:labels", 10));
    assertMentions(message, "res:labels", "truncated", "magic number");
  }

  @Test
  void truncatedPixelsNameFileAndByteCounts() throws IOException {
    write(false);
    byte[] bytes = Files.readAllBytes(images);
    Files.write(images, Arrays.copyOf(bytes, bytes.length - 100));
    int expected = 37 * 28 * 28;
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)),
        images.toString(), "truncated", "expected " + expected + " bytes", "found only " + (expected - 100));
  }

  @Test
  void truncatedGzipNamesFile() throws IOException {
    write(true);
    byte[] bytes = Files.readAllBytes(images);
    Files.write(images, Arrays.copyOf(bytes, bytes.length / 2));
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)), images.toString(), "gzip");
  }

  @Test
  void corruptGzipHeaderNamesFile() throws IOException {
    write(true);
    Files.write(images, new byte[] {0x1f, (byte) 0x8b, 0x42, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3});
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)), images.toString(), "gzip header is corrupt");
  }

  @Test
  void corruptDeflateDataNamesFile() throws IOException {
    write(true);
    byte[] bytes = Files.readAllBytes(images);
    for (int i = bytes.length / 2; i < bytes.length / 2 + 40; i++) {
      bytes[i] = (byte) 0xff;
    }
    Files.write(images, bytes);
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)), images.toString(), "corrupt or truncated gzip");
  }

  @Test
  void labelFileGivenAsImagesIsRejectedByMagic() throws IOException {
    write(true);
    assertMentions(failure(() -> IdxReader.read(labels, labels, 10)),
        labels.toString(), "magic number 0x00000801", "expected 0x00000803", "IDX label file");
  }

  @Test
  void arbitraryFileIsRejectedByMagic() throws IOException {
    write(false);
    Files.writeString(images, "hello, this is not an IDX file at all");
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)),
        images.toString(), "magic number 0x68656c6c", "expected 0x00000803");
  }

  @Test
  void disagreeingCountsNameBothFiles() throws IOException {
    write(false);
    ImageSet fewer = set.subset(new int[] {0, 1, 2});
    Path otherLabels = dir.resolve("other-labels");
    IdxWriter.write(fewer, dir.resolve("other-images"), otherLabels, false);
    assertMentions(failure(() -> IdxReader.read(images, otherLabels, 10)),
        otherLabels.toString(), "declares 3 labels", images.toString(), "declares 37 images");
  }

  @Test
  void headerThatUnderstatesTheDataIsRejected() throws IOException {
    write(false);
    byte[] bytes = Files.readAllBytes(images);
    ByteBuffer.wrap(bytes).putInt(4, 36);
    Files.write(images, bytes);
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)),
        images.toString(), "end after 36 images", "found 784 more bytes");
  }

  @Test
  void labelOutsideTheClassesIsRejected() throws IOException {
    write(false);
    byte[] bytes = Files.readAllBytes(labels);
    bytes[8 + 4] = 12;
    Files.write(labels, bytes);
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)),
        labels.toString(), "label 12 of item 4", "below 10");
  }

  /** The header's count at offset 4 replaced. */
  private void rewriteCount(int count) throws IOException {
    byte[] bytes = Files.readAllBytes(images);
    ByteBuffer.wrap(bytes).putInt(4, count);
    Files.write(images, bytes);
  }

  @Test
  void aHeaderOfNoImagesIsRefused() throws IOException {
    write(false);
    rewriteCount(0);
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)), images.toString(), "declares 0 images");
  }

  @Test
  void aHeaderClaimingMillionsOfImagesCostsOnlyWhatTheFileHolds() throws IOException {
    write(true);
    Path plain = dir.resolve("plain-images");
    IdxWriter.write(set, plain, dir.resolve("plain-labels"), false);
    images = plain;
    // 2.7e9 bytes would not fit one array; 2.5e6 images of 28x28 (1.96e9 bytes) would, if allocated.
    rewriteCount(2_500_000);
    assertMentions(failure(() -> IdxReader.read(images, labels, 10)), plain.toString(), "truncated",
        "expected 1960000000 bytes", "found only " + 37 * 28 * 28);
  }
}
