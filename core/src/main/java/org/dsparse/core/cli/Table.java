package org.dsparse.core.cli;

import java.util.ArrayList;
import java.util.List;

/** A plain-text table with aligned columns, for terminal reports. */
public final class Table {
  private final List<String> headers;
  private final List<List<String>> rows = new ArrayList<>();

  public Table(String... headers) {
    this.headers = List.of(headers);
  }

  public Table row(Object... cells) {
    if (cells.length != headers.size()) {
      throw new IllegalArgumentException("row has " + cells.length + " cells, table has "
          + headers.size() + " columns");
    }
    List<String> row = new ArrayList<>();
    for (Object cell : cells) {
      row.add(String.valueOf(cell));
    }
    rows.add(row);
    return this;
  }

  /** Megabytes with one decimal, the unit of every memory column. */
  public static String mib(long bytes) {
    return String.format("%.1f", bytes / (1024.0 * 1024.0));
  }

  @Override
  public String toString() {
    int[] widths = new int[headers.size()];
    for (int c = 0; c < widths.length; c++) {
      widths[c] = headers.get(c).length();
      for (List<String> row : rows) {
        widths[c] = Math.max(widths[c], row.get(c).length());
      }
    }
    StringBuilder out = new StringBuilder();
    append(out, headers, widths);
    for (int c = 0; c < widths.length; c++) {
      out.append(c == 0 ? "" : "  ").append("-".repeat(widths[c]));
    }
    out.append('\n');
    for (List<String> row : rows) {
      append(out, row, widths);
    }
    return out.toString();
  }

  private static void append(StringBuilder out, List<String> cells, int[] widths) {
    for (int c = 0; c < widths.length; c++) {
      String cell = cells.get(c);
      boolean numeric = cell.matches("[-+]?[0-9.,%]+");
      String padded = numeric ? " ".repeat(widths[c] - cell.length()) + cell
          : cell + " ".repeat(widths[c] - cell.length());
      out.append(c == 0 ? "" : "  ").append(padded);
    }
    out.append('\n');
  }
}
