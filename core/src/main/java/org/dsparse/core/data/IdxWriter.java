package org.dsparse.core.data;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/** Writes a single-channel {@link ImageSet} as an IDX images file and an IDX labels file. */
public final class IdxWriter {
  private IdxWriter() {}

  /** Writes both files, gzipped when {@code gzip} is set; {@link IdxReader} reads them back unchanged. */
  public static void write(ImageSet set, Path images, Path labels, boolean gzip) throws IOException {
    if (set.channels() != 1) {
      throw new IllegalArgumentException("IDX images have one channel; this set has " + set.channels());
    }
    if (set.classes() > 256) {
      throw new IllegalArgumentException("IDX labels are bytes; " + set.classes() + " classes do not fit");
    }
    try (DataOutputStream out = open(images, gzip)) {
      out.writeInt(IdxReader.IMAGES_MAGIC);
      out.writeInt(set.size());
      out.writeInt(set.height());
      out.writeInt(set.width());
      out.write(set.pixels());
    }
    try (DataOutputStream out = open(labels, gzip)) {
      out.writeInt(IdxReader.LABELS_MAGIC);
      out.writeInt(set.size());
      for (int label : set.labels()) {
        out.writeByte(label);
      }
    }
  }

  private static DataOutputStream open(Path file, boolean gzip) throws IOException {
    OutputStream raw = Files.newOutputStream(file);
    return new DataOutputStream(new BufferedOutputStream(gzip ? smallestGzip(raw) : raw, 1 << 16));
  }

  /** Best compression: the embedded subset ships inside a jar, and reading speed does not depend on the level. */
  private static OutputStream smallestGzip(OutputStream raw) throws IOException {
    return new GZIPOutputStream(raw, 1 << 16) {
      {
        def.setLevel(Deflater.BEST_COMPRESSION);
      }
    };
  }
}
