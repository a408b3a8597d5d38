package org.dsparse.training.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Locale;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.DatasetFormatException;
import org.dsparse.core.data.DatasetKind;
import org.dsparse.core.data.DatasetLocator;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Normalization;
import org.dsparse.core.data.Split;

/**
 * Where training images come from, as written in configuration or on a command line:
 * {@code embedded} (the Fashion-MNIST subset in this jar), {@code fashion-mnist} (the installed
 * full dataset), or {@code fashion-mnist:<folder>} / {@code cifar10:<folder>} (files in a folder).
 *
 * <p>Every read of a dataset goes through {@link #load}: whoever reads (a job's submitter, a device,
 * the simulator's pre-training), a missing folder or file, or a file that is not what it should be,
 * is one {@link UsageException} naming the file and what is wrong with it.
 */
public sealed interface DataSource {
  String FORMS = "embedded, fashion-mnist, fashion-mnist:<folder>, cifar10:<folder>";

  DatasetKind kind();

  /**
   * Reads one split. A folder without the dataset, a missing file or a file that is truncated,
   * corrupt or inconsistent is a {@link UsageException} whose message names the file (or the
   * folders tried) and the problem, on one line.
   */
  default ImageSet load(Split split) {
    try {
      return read(this, split);
    } catch (DatasetFormatException | DatasetLocator.DatasetNotFoundException e) {
      throw new UsageException(e.getMessage());
    } catch (FileSystemException e) {
      throw new UsageException(e.getFile() + ": cannot read it (" + (e.getReason() != null ? e.getReason()
          : e.getClass().getSimpleName()) + ")");
    } catch (IOException e) {
      throw new UsageException(this + ": cannot read it (" + e.getMessage() + ")");
    } catch (UncheckedIOException e) {
      throw new UsageException(this + ": cannot read it (" + e.getCause().getMessage() + ")");
    }
  }

  private static ImageSet read(DataSource source, Split split) throws IOException {
    if (source instanceof Embedded) {
      return EmbeddedFashionMnist.load(split);
    }
    if (source instanceof Installed installed) {
      return installed.kind().load(DatasetLocator.standard().locateInstalled(installed.kind()), split);
    }
    Folder folder = (Folder) source;
    return folder.kind().load(DatasetLocator.standard().locate(folder.kind(), folder.folder()), split);
  }

  /** The published per-channel statistics of the dataset this source holds. */
  default Normalization normalization() {
    return kind().normalization();
  }

  /** The Fashion-MNIST subset shipped in the training jar. */
  record Embedded() implements DataSource {
    @Override
    public DatasetKind kind() {
      return DatasetKind.FASHION_MNIST;
    }

    @Override
    public String toString() {
      return "embedded";
    }
  }

  /** A dataset installed by a system package, found by {@link DatasetLocator#standard()}. */
  record Installed(DatasetKind kind) implements DataSource {
    @Override
    public String toString() {
      return name(kind);
    }
  }

  /** A dataset's files in a folder the user named (or its conventional sub-folder). */
  record Folder(DatasetKind kind, Path folder) implements DataSource {
    @Override
    public String toString() {
      return name(kind) + ":" + folder;
    }
  }

  /**
   * Reads one of the forms listed in {@link #FORMS}; {@code where} (e.g. a configuration key)
   * is named in the error for anything else.
   */
  static DataSource parse(String text, String where) {
    String trimmed = text.trim();
    int colon = trimmed.indexOf(':');
    String name = (colon < 0 ? trimmed : trimmed.substring(0, colon)).toLowerCase(Locale.ROOT);
    String folder = colon < 0 ? "" : trimmed.substring(colon + 1).trim();
    if (name.equals("embedded") && colon < 0) {
      return new Embedded();
    }
    for (DatasetKind kind : DatasetKind.values()) {
      if (name.equals(name(kind))) {
        if (colon < 0) {
          return new Installed(kind);
        }
        if (folder.isEmpty()) {
          throw new IllegalArgumentException(where + ": \"" + text + "\" names no folder after the colon");
        }
        return new Folder(kind, Path.of(folder));
      }
    }
    throw new IllegalArgumentException(where + ": unknown data source \"" + text + "\"; expected one of " + FORMS);
  }

  private static String name(DatasetKind kind) {
    return switch (kind) {
      case FASHION_MNIST -> "fashion-mnist";
      case CIFAR10 -> "cifar10";
    };
  }
}
