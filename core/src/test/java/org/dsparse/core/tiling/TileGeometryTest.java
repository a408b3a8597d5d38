package org.dsparse.core.tiling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The geometry against a reference: single-channel 2-D convolutions in integers (so equality is
 * exact), run untiled with their padding and tile by tile on the held inputs with the border padding
 * added and none of the window's own.
 */
class TileGeometryTest {
  private static Stage conv(String name, int kernel, int stride, int padding, int dilation) {
    Window w = new Window(kernel, stride, padding, dilation);
    return new Stage(name, w, w, 1, 1, 2.0 * kernel * kernel, 1, (long) kernel * kernel, false);
  }

  /** A stem-like strided conv, a dilated one, a 1x1, a pooling-like 2x2/2 and a 5x5. */
  private static final List<Stage> STAGES = List.of(
      conv("stem", 3, 2, 1, 1), conv("dilated", 3, 1, 2, 2), conv("pointwise", 1, 1, 0, 1),
      conv("pool", 2, 2, 0, 1), conv("wide", 5, 1, 2, 1));

  @Test
  void tiledOutputsEqualUntiledOnes() {
    Random random = new Random(3);
    int[][] grids = {{2, 1}, {1, 2}, {3, 1}, {1, 3}, {2, 2}, {4, 1}, {2, 3}};
    for (int size : new int[] {29, 33, 37}) {
      for (int extra : new int[] {0, 3}) {
        int height = size;
        int width = size + extra;
        long[][] image = random(random, height, width);
        long[][][] kernels = new long[STAGES.size()][][];
        for (int s = 0; s < STAGES.size(); s++) {
          kernels[s] = random(random, STAGES.get(s).height().kernel(), STAGES.get(s).width().kernel());
        }
        long[][] expected = image;
        for (int s = 0; s < STAGES.size(); s++) {
          expected = conv(pad(expected, STAGES.get(s).height().padding(), STAGES.get(s).height().padding(),
              STAGES.get(s).width().padding(), STAGES.get(s).width().padding()), kernels[s], STAGES.get(s));
        }
        for (int[] grid : grids) {
          TileGeometry g = TileGeometry.of(STAGES, height, width, grid[0], grid[1]);
          long[][] assembled = new long[expected.length][expected[0].length];
          long owned = 0;
          for (int t = 0; t < g.tiles(); t++) {
            List<TileGeometry.Piece> pieces = g.tile(t);
            TileGeometry.Piece first = pieces.get(0);
            long[][] x = crop(image, first.inRows().held(), first.inColumns().held());
            for (int s = 0; s < STAGES.size(); s++) {
              TileGeometry.Piece p = pieces.get(s);
              x = conv(pad(x, p.inRows().padBefore(), p.inRows().padAfter(), p.inColumns().padBefore(),
                  p.inColumns().padAfter()), kernels[s], STAGES.get(s));
              assertEquals(p.outRows().length(), x.length);
              assertEquals(p.outColumns().length(), x[0].length);
            }
            TileGeometry.Piece own = g.owned(t);
            owned += own.outArea();
            for (int r = 0; r < x.length; r++) {
              for (int c = 0; c < x[0].length; c++) {
                assembled[own.outRows().from() + r][own.outColumns().from() + c] = x[r][c];
              }
            }
          }
          assertEquals((long) expected.length * expected[0].length, owned, "tiles overlap or leave gaps");
          assertOwnedPartitionEveryStage(g);
          for (int r = 0; r < expected.length; r++) {
            assertArrayEquals(expected[r], assembled[r], height + "x" + width + " in " + grid[0] + "x" + grid[1]
                + " tiles, output row " + r);
          }
        }
      }
    }
  }

  /** At every stage the owned parts cover the map once, each inside what its tile computes. */
  private static void assertOwnedPartitionEveryStage(TileGeometry g) {
    for (int s = 0; s < g.stages().size(); s++) {
      long[][] count = new long[g.height(s + 1)][g.width(s + 1)];
      for (int t = 0; t < g.tiles(); t++) {
        TileGeometry.Piece p = g.tile(t).get(s);
        assertTrue(p.outRows().contains(p.ownedRows()) && p.outColumns().contains(p.ownedColumns()),
            "stage " + s + " tile " + t + " owns " + p.ownedRows() + " x " + p.ownedColumns() + " outside "
                + p.outRows() + " x " + p.outColumns());
        for (int r = p.ownedRows().from(); r < p.ownedRows().to(); r++) {
          for (int c = p.ownedColumns().from(); c < p.ownedColumns().to(); c++) {
            count[r][c]++;
          }
        }
      }
      for (long[] row : count) {
        for (long c : row) {
          assertEquals(1, c, "stage " + s + ": a position owned " + c + " times");
        }
      }
    }
  }

  @Test
  void rowsNobodyReadsAreStillComputedByTheLastTile() {
    // 2x2 pooling, stride 2, on 15 rows reads rows 0-13: row 14 of the 3x3's output is computed
    // untiled (and counted in a BatchNorm's statistics), so a tile must compute it too.
    TileGeometry g = TileGeometry.of(List.of(conv("c", 3, 1, 1, 1), conv("pool", 2, 2, 0, 1)), 15, 15, 2, 1);
    // The pooling's 7 outputs split 4 + 3 read rows [0, 8) and [8, 14) of the 3x3's output.
    assertEquals(new Span(8, 15), g.tile(1).get(0).outRows());
    assertEquals(new Span(8, 15), g.tile(1).get(0).ownedRows());
    assertEquals(new Span(0, 8), g.tile(0).get(0).ownedRows());
    // Row 14 needs input rows 13-14 (and the padding below).
    assertEquals(new Window.Need(new Span(7, 15), 0, 1), g.tile(1).get(0).inRows());
  }

  @Test
  void halosAndRecomputationByHand() {
    // A 3x3 "same" convolution on 8 x 8 in two row tiles: each holds one row beyond its half.
    TileGeometry g = TileGeometry.of(List.of(conv("c", 3, 1, 1, 1)), 8, 8, 2, 1);
    assertEquals(new Span(0, 5), g.input(0).inRows().held());
    assertEquals(new Span(3, 8), g.input(1).inRows().held());
    assertEquals(8, g.halo(0));
    assertEquals(8, g.halo(1));
    // Two fused: two rows of halo, and the first layer recomputes a row on each side.
    TileGeometry fused = TileGeometry.of(List.of(conv("a", 3, 1, 1, 1), conv("b", 3, 1, 1, 1)), 8, 8, 2, 1);
    assertEquals(16, fused.halo(0));
    assertEquals(5 * 8, fused.tile(0).get(0).outArea());
    assertEquals(4 * 8, fused.tile(0).get(1).outArea());
    double recomputed = (fused.forwardFlops(0) + fused.forwardFlops(1)) / fused.untiledForwardFlops();
    assertEquals((10 + 8) / 16.0, recomputed, 1e-12);
    assertTrue(fused.storedFloats(0) < fused.untiledStoredFloats());
  }

  private static long[][] random(Random random, int rows, int columns) {
    long[][] a = new long[rows][columns];
    for (long[] row : a) {
      for (int c = 0; c < columns; c++) {
        row[c] = random.nextInt(7) - 3;
      }
    }
    return a;
  }

  private static long[][] crop(long[][] a, Span rows, Span columns) {
    long[][] b = new long[rows.length()][columns.length()];
    for (int r = 0; r < rows.length(); r++) {
      System.arraycopy(a[rows.from() + r], columns.from(), b[r], 0, columns.length());
    }
    return b;
  }

  private static long[][] pad(long[][] a, int top, int bottom, int left, int right) {
    long[][] b = new long[a.length + top + bottom][a[0].length + left + right];
    for (int r = 0; r < a.length; r++) {
      System.arraycopy(a[r], 0, b[top + r], left, a[0].length);
    }
    return b;
  }

  /** The stage's window with no padding of its own. */
  private static long[][] conv(long[][] a, long[][] kernel, Stage stage) {
    Window h = new Window(stage.height().kernel(), stage.height().stride(), 0, stage.height().dilation());
    Window w = new Window(stage.width().kernel(), stage.width().stride(), 0, stage.width().dilation());
    long[][] out = new long[h.outputSize(a.length)][w.outputSize(a[0].length)];
    for (int r = 0; r < out.length; r++) {
      for (int c = 0; c < out[0].length; c++) {
        long sum = 0;
        for (int i = 0; i < h.kernel(); i++) {
          for (int j = 0; j < w.kernel(); j++) {
            sum += kernel[i][j] * a[r * h.stride() + i * h.dilation()][c * w.stride() + j * w.dilation()];
          }
        }
        out[r][c] = sum;
      }
    }
    return out;
  }
}
