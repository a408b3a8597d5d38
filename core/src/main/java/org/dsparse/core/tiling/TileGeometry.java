package org.dsparse.core.tiling;

import java.util.ArrayList;
import java.util.List;

/**
 * Which part of every feature map each tile of a fused group computes. The group's output is split
 * into a grid of {@code rows x columns} tiles of near-equal size; going back through the stages, a
 * tile needs of each stage's input what the stage's window reads for the tile's outputs there: its
 * own part and a halo, which the neighbouring tiles compute as well (the fused group's price: halo
 * recomputation instead of an exchange after every layer). At the image's borders the window reads
 * padding, which the tile adds itself; inside the image it reads real rows held in the halo.
 */
public final class TileGeometry {
  private final List<Stage> stages;
  private final int[] heights;
  private final int[] widths;
  private final int rows;
  private final int columns;
  private final List<List<Piece>> tiles;

  /**
   * What one tile does at one stage: the outputs it computes ({@code outRows x outColumns}), what it
   * holds of the stage's input to do so, with the padding to add at image borders, and the outputs
   * it owns ({@code ownedRows x ownedColumns}): the owned parts of a stage's output partition it, each
   * inside its tile's outputs, so sums over the whole map (BatchNorm's statistics) count every
   * position once.
   */
  public record Piece(Span outRows, Span outColumns, Window.Need inRows, Window.Need inColumns, Span ownedRows,
      Span ownedColumns) {
    public long outArea() {
      return (long) outRows.length() * outColumns.length();
    }

    public long inArea() {
      return (long) inRows.held().length() * inColumns.held().length();
    }
  }

  private TileGeometry(List<Stage> stages, int[] heights, int[] widths, int rows, int columns,
      List<List<Piece>> tiles) {
    this.stages = stages;
    this.heights = heights;
    this.widths = widths;
    this.rows = rows;
    this.columns = columns;
    this.tiles = tiles;
  }

  /**
   * The tiles of {@code stages} applied to an input of {@code height x width}, split into {@code rows x
   * columns} tiles of the last stage's output.
   */
  public static TileGeometry of(List<Stage> stages, int height, int width, int rows, int columns) {
    if (stages.isEmpty()) {
      throw new IllegalArgumentException("a tiled group needs at least one stage");
    }
    int n = stages.size();
    int[] heights = new int[n + 1];
    int[] widths = new int[n + 1];
    heights[0] = height;
    widths[0] = width;
    for (int s = 0; s < n; s++) {
      heights[s + 1] = stages.get(s).height().outputSize(heights[s]);
      widths[s + 1] = stages.get(s).width().outputSize(widths[s]);
    }
    if (rows > heights[n] || columns > widths[n]) {
      throw new IllegalArgumentException("a " + rows + " x " + columns + " grid does not fit the group's "
          + heights[n] + " x " + widths[n] + " output");
    }
    Axis[] alongRows = axis(stages, true, heights, rows);
    Axis[] alongColumns = axis(stages, false, widths, columns);
    List<List<Piece>> tiles = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < columns; c++) {
        Piece[] pieces = new Piece[n];
        for (int s = 0; s < n; s++) {
          pieces[s] = new Piece(alongRows[s].out[r], alongColumns[s].out[c], alongRows[s].need[r],
              alongColumns[s].need[c], alongRows[s].owned[r], alongColumns[s].owned[c]);
        }
        tiles.add(List.of(pieces));
      }
    }
    return new TileGeometry(List.copyOf(stages), heights, widths, rows, columns, List.copyOf(tiles));
  }

  /** One axis of every stage: per part of the grid along it, the outputs computed, the input held, the outputs owned. */
  private record Axis(Span[] out, Window.Need[] need, Span[] owned) {}

  /**
   * Going back from the last stage's even split: each stage's outputs are what the stage after reads,
   * widened so that the parts cover the whole map (a stride or a border can leave rows nobody reads,
   * which the untiled layers still compute and count in BatchNorm's statistics); each part owns a
   * run of them, near the even split, inside what it computes.
   */
  private static Axis[] axis(List<Stage> stages, boolean alongRows, int[] sizes, int parts) {
    int n = stages.size();
    Axis[] axes = new Axis[n];
    Span[] out = Span.split(sizes[n], parts);
    for (int s = n - 1; s >= 0; s--) {
      int size = sizes[s + 1];
      Span[] even = Span.split(size, parts);
      Span[] owned = new Span[parts];
      int from = 0;
      for (int p = 0; p < parts; p++) {
        int to = size;
        if (p + 1 < parts) {
          // Between this part and the next: inside both where they overlap, else where the next begins.
          int low = Math.min(out[p + 1].from(), out[p].to());
          int high = Math.max(out[p + 1].from(), out[p].to());
          to = Math.max(from, Math.min(high, Math.max(low, even[p].to())));
          if (out[p].to() <= out[p + 1].from()) {
            to = Math.max(from, out[p + 1].from());
          }
        }
        owned[p] = new Span(from, to);
        out[p] = new Span(Math.min(out[p].from(), from), Math.max(out[p].to(), to));
        from = to;
      }
      Window window = alongRows ? stages.get(s).height() : stages.get(s).width();
      Window.Need[] need = new Window.Need[parts];
      Span[] below = new Span[parts];
      for (int p = 0; p < parts; p++) {
        need[p] = window.need(out[p], sizes[s]);
        below[p] = need[p].held();
      }
      axes[s] = new Axis(out.clone(), need, owned);
      out = below;
    }
    return axes;
  }

  public int tiles() {
    return tiles.size();
  }

  public int rows() {
    return rows;
  }

  public int columns() {
    return columns;
  }

  public List<Stage> stages() {
    return stages;
  }

  /** Tile {@code t}'s pieces, stage by stage (tiles numbered row by row of the grid). */
  public List<Piece> tile(int t) {
    return tiles.get(t);
  }

  /** The height of stage {@code s}'s input ({@code s} = stages: the group's output). */
  public int height(int s) {
    return heights[s];
  }

  public int width(int s) {
    return widths[s];
  }

  /** Tile {@code t}'s share of the group's output: the spans no other tile computes. */
  public Piece owned(int t) {
    return tiles.get(t).get(stages.size() - 1);
  }

  /** The group's input tile {@code t} holds. */
  public Piece input(int t) {
    return tiles.get(t).get(0);
  }

  /** Forward FLOPs per sample of tile {@code t}, its halo recomputation included. */
  public double forwardFlops(int t) {
    double flops = 0;
    for (int s = 0; s < stages.size(); s++) {
      Stage stage = stages.get(s);
      flops += stage.flopsPerOutput() * stage.outChannels() * tiles.get(t).get(s).outArea();
    }
    return flops;
  }

  /** Forward FLOPs per sample of the whole group, untiled. */
  public double untiledForwardFlops() {
    double flops = 0;
    for (int s = 0; s < stages.size(); s++) {
      Stage stage = stages.get(s);
      flops += stage.flopsPerOutput() * stage.outChannels() * (double) heights[s + 1] * widths[s + 1];
    }
    return flops;
  }

  /**
   * Floats per sample tile {@code t} keeps for the backward: its held input and every stage's stored
   * outputs over its pieces.
   */
  public double storedFloats(int t) {
    double floats = (double) input(t).inArea() * stages.get(0).inChannels();
    for (int s = 0; s < stages.size(); s++) {
      Stage stage = stages.get(s);
      floats += stage.storedPerOutput() * stage.outChannels() * tiles.get(t).get(s).outArea();
    }
    return floats;
  }

  /** The same floats for the group untiled. */
  public double untiledStoredFloats() {
    double floats = (double) heights[0] * widths[0] * stages.get(0).inChannels();
    for (int s = 0; s < stages.size(); s++) {
      Stage stage = stages.get(s);
      floats += stage.storedPerOutput() * stage.outChannels() * (double) heights[s + 1] * widths[s + 1];
    }
    return floats;
  }

  /**
   * Input elements (per channel and sample) tile {@code t} holds beyond its own part of the group's
   * input, the input split into the same grid (which is what tile {@code t} of the group before
   * computed as its output): the halo it receives from its neighbours forward, and whose gradient
   * it sends back to them.
   */
  public long halo(int t) {
    Span ownRows = Span.split(heights[0], rows)[t / columns];
    Span ownColumns = Span.split(widths[0], columns)[t % columns];
    Piece in = input(t);
    long kept = (long) in.inRows().held().intersect(ownRows).length()
        * in.inColumns().held().intersect(ownColumns).length();
    return in.inArea() - kept;
  }
}
