package org.dsparse.core.data;

/**
 * A data file that cannot be used: truncated, corrupt, of the wrong kind, or inconsistent with its
 * companion file. The message names the file and states what was expected and what was found, so
 * callers can show it to the user as is.
 */
public final class DatasetFormatException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String file;

  public DatasetFormatException(String file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public DatasetFormatException(String file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The file (path or classpath resource name) the problem was found in. */
  public String file() {
    return file;
  }
}
