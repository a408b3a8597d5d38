package org.dsparse.core.tiling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TilingCostModelTest {
  private static Stage conv(String name, int kernel, int stride, int in, int out, int groups) {
    Window w = new Window(kernel, stride, kernel / 2, 1);
    return new Stage(name, w, w, in, out, 2.0 * kernel * kernel * in / groups, 3,
        (long) kernel * kernel * in / groups * out, true);
  }

  /** MobileNetV2's first layers: the stem and three inverted-residual blocks, 112 x 112 input. */
  static List<TiledLayer> mobileNetV2Prefix() {
    return List.of(
        new TiledLayer("stem", List.of(conv("stem", 3, 2, 1, 32, 1))),
        new TiledLayer("ir1", List.of(conv("ir1.dw", 3, 1, 32, 32, 32), conv("ir1.pw", 1, 1, 32, 16, 1))),
        new TiledLayer("ir2", List.of(conv("ir2.expand", 1, 1, 16, 96, 1), conv("ir2.dw", 3, 2, 96, 96, 96),
            conv("ir2.project", 1, 1, 96, 24, 1))),
        new TiledLayer("ir3", List.of(conv("ir3.expand", 1, 1, 24, 144, 1), conv("ir3.dw", 3, 1, 144, 144, 144),
            conv("ir3.project", 1, 1, 144, 24, 1))),
        new TiledLayer("ir4", List.of(conv("ir4.expand", 1, 1, 24, 144, 1), conv("ir4.dw", 3, 2, 144, 144, 144),
            conv("ir4.project", 1, 1, 144, 32, 1))));
  }

  private static TilingCostModel model(double bandwidth, double hop) {
    // A Raspberry Pi 3's few GFLOP/s; batch 32.
    return new TilingCostModel(mobileNetV2Prefix(), 112, 112, 32, 2e9, 2, bandwidth, hop);
  }

  @Test
  void oneTileIsTheUntiledLayersOnOneDevice() {
    TilingCostModel m = model(6.25e6, 1e-3);
    TilingCostModel.Cost one = m.cost(new TilingCostModel.Grid(1, 1), List.of(new TilingCostModel.Group(0, 5)));
    assertEquals(0, one.bytesPerStep());
    assertEquals(0, one.exchangeSeconds() + one.syncSeconds());
    assertEquals(1.0, one.recomputation(), 1e-12);
    // The best grouping of one tile is whatever: no halo, no exchange.
    assertEquals(one.seconds(), m.best(1).seconds(), 1e-9);
  }

  @Test
  void theChosenGroupingIsTheBestOfEveryGrouping() {
    for (double bandwidth : new double[] {1e6, 6.25e6, 1e9}) {
      for (double hop : new double[] {0, 1e-3, 50e-3}) {
        TilingCostModel m = model(bandwidth, hop);
        for (int k : new int[] {2, 3, 4, 6}) {
          for (TilingCostModel.Grid grid : TilingCostModel.grids(k)) {
            double brute = Double.POSITIVE_INFINITY;
            for (List<TilingCostModel.Group> groups : groupings(5)) {
              brute = Math.min(brute, m.cost(grid, groups).seconds());
            }
            assertEquals(brute, m.best(grid).seconds(), brute * 1e-9, grid + " at " + bandwidth + " B/s, " + hop + " s");
            assertTrue(m.best(grid).seconds() <= m.bestFixed(grid).seconds() + 1e-12);
          }
        }
      }
    }
  }

  @Test
  void memoryPerDeviceFallsNearlyKFoldAndComputeWithIt() {
    TilingCostModel m = model(6.25e6, 1e-3);
    TilingCostModel.Cost one = m.best(1);
    for (int k : new int[] {2, 3, 4, 6}) {
      TilingCostModel.Cost tiled = m.best(k);
      double memoryCut = one.storedBytesPerDevice() / tiled.storedBytesPerDevice();
      assertTrue(memoryCut > 0.75 * k, k + " tiles: memory cut " + memoryCut + "x, " + tiled.describe());
      assertTrue(tiled.computeSeconds() < one.computeSeconds() / (0.7 * k), tiled.describe());
      assertTrue(tiled.recomputation() > 1, tiled.describe());
    }
  }

  @Test
  void aSlowLinkFusesMoreLayersThanAFastOne() {
    int slow = model(1e6, 50e-3).best(new TilingCostModel.Grid(4, 1)).groups().size();
    int fast = model(1e10, 0).best(new TilingCostModel.Grid(4, 1)).groups().size();
    assertEquals(1, slow);
    assertTrue(fast > slow, "fast link: " + fast + " groups");
  }

  /** Every way to cut {@code n} layers into consecutive groups. */
  private static List<List<TilingCostModel.Group>> groupings(int n) {
    List<List<TilingCostModel.Group>> all = new ArrayList<>();
    for (int mask = 0; mask < 1 << (n - 1); mask++) {
      List<TilingCostModel.Group> groups = new ArrayList<>();
      int from = 0;
      for (int l = 1; l < n; l++) {
        if ((mask & (1 << (l - 1))) != 0) {
          groups.add(new TilingCostModel.Group(from, l));
          from = l;
        }
      }
      groups.add(new TilingCostModel.Group(from, n));
      all.add(groups);
    }
    return all;
  }
}
