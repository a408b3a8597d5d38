package org.dsparse.core.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds the folder holding a dataset's files. A folder named by the user is searched (it or its
 * conventional sub-folder, e.g. {@code cifar-10-batches-bin}); without one, the system folders
 * where packages install datasets are searched. When nothing fits, the error lists every folder
 * tried and why it did not fit.
 */
public final class DatasetLocator {
  /** Where Debian's {@code dataset-fashion-mnist} package installs the gzipped IDX files. */
  public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

  private final Map<DatasetKind, List<Path>> systemFolders;

  public DatasetLocator(Map<DatasetKind, List<Path>> systemFolders) {
    this.systemFolders = Map.copyOf(systemFolders);
  }

  /** Searches the folders distribution packages install to. */
  public static DatasetLocator standard() {
    return new DatasetLocator(Map.of(DatasetKind.FASHION_MNIST, List.of(DEBIAN_FASHION_MNIST)));
  }

  /** The folder with all of {@code kind}'s files in the user's folder. */
  public Path locate(DatasetKind kind, Path userFolder) {
    return firstComplete(kind, List.of(userFolder, userFolder.resolve(kind.conventionalFolder())),
        " in the folder given (" + userFolder + ")");
  }

  /** The first system folder with all of {@code kind}'s files. */
  public Path locateInstalled(DatasetKind kind) {
    return firstComplete(kind, systemFolders.getOrDefault(kind, List.of()),
        " in the system folders; install it (e.g. apt-get install dataset-fashion-mnist) or name a folder");
  }

  /** Whether some system folder holds all of {@code kind}'s files. */
  public boolean isInstalled(DatasetKind kind) {
    return systemFolders.getOrDefault(kind, List.of()).stream().anyMatch(f -> kind.missingFiles(f).isEmpty());
  }

  private static Path firstComplete(DatasetKind kind, List<Path> candidates, String where) {
    List<String> tried = new ArrayList<>();
    for (Path folder : candidates) {
      if (!Files.isDirectory(folder)) {
        tried.add(folder + " (not a folder)");
        continue;
      }
      List<String> missing = kind.missingFiles(folder);
      if (missing.isEmpty()) {
        return folder;
      }
      tried.add(folder + " (missing " + String.join(", ", missing) + ")");
    }
    throw new DatasetNotFoundException("no complete " + kind.displayName() + " dataset found" + where
        + "; tried: " + (tried.isEmpty() ? "no folders are known for it" : String.join("; ", tried)));
  }

  /** No folder holding a complete dataset; the message lists what was tried. */
  public static final class DatasetNotFoundException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DatasetNotFoundException(String message) {
      super(message);
    }
  }
}
