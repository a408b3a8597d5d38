package org.dsparse.core.tiling;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What tiling the early layers across a group of devices costs per step, and the layer grouping
 * that costs least (Rama et al.'s grouping of fused tiles): per group, the slowest tile's compute
 * (its halo recomputed, forward and backward); at each boundary between groups, the halos each tile
 * receives forward and whose gradients it sends back; BatchNorm's per-channel sums exchanged twice
 * per normalized stage; the tiled weights' gradients summed across the tile group; the last group's
 * output gathered onto the device that runs the rest of the network, its gradient scattered back.
 * Memory: what each device keeps for the backward of its tiles.
 *
 * <p>Fusing more layers into a group trades recomputation (a halo that grows with the receptive
 * field) for fewer exchanges (each a round of latency and the halo's bytes); the best grouping
 * depends on the link and the devices, which is why a model picks it.
 *
 * @param layers the tiled layers, in order
 * @param height the first layer's input height
 * @param width its width
 * @param batch samples per step
 * @param flopsPerSecond what one device computes (the slowest of the tile group)
 * @param backwardFactor the backward's FLOPs against the forward's (about 2)
 * @param linkBytesPerSecond one link's bandwidth
 * @param hopSeconds one message's latency on a link
 */
public record TilingCostModel(List<TiledLayer> layers, int height, int width, int batch, double flopsPerSecond,
    double backwardFactor, double linkBytesPerSecond, double hopSeconds) {
  public TilingCostModel {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("nothing to tile: no layers");
    }
    layers = List.copyOf(layers);
    if (batch < 1 || !(flopsPerSecond > 0) || !(linkBytesPerSecond > 0) || hopSeconds < 0 || backwardFactor < 0) {
      throw new IllegalArgumentException("tiling cost model: batch, compute rate and bandwidth must be positive");
    }
  }

  /** Layers {@code [from, to)} fused into one group. */
  public record Group(int from, int to) {
    @Override
    public String toString() {
      return from + 1 == to ? Integer.toString(from) : from + "-" + (to - 1);
    }
  }

  /** A grid of {@code rows x columns} tiles. */
  public record Grid(int rows, int columns) {
    public int tiles() {
      return rows * columns;
    }

    @Override
    public String toString() {
      return rows + "x" + columns;
    }
  }

  /**
   * One grouping's predicted cost per step.
   *
   * @param seconds the critical path: the sum of the parts below
   * @param computeSeconds the slowest tile's forward and backward, group by group
   * @param exchangeSeconds halos at group boundaries, the gather onto the rest of the network and the
   *     scatter back
   * @param syncSeconds BatchNorm sums and the tiled weights' gradients summed across the tile group
   * @param bytesPerStep bytes all devices of the tile group send per step
   * @param storedBytesPerDevice what the most loaded device keeps for the backward of its tiles
   * @param recomputation the tiles' forward FLOPs against the untiled layers' (1: none)
   */
  public record Cost(Grid grid, List<Group> groups, double seconds, double computeSeconds, double exchangeSeconds,
      double syncSeconds, double bytesPerStep, double storedBytesPerDevice, double recomputation) {
    public String describe() {
      return String.format(Locale.ROOT, "%s tiles, groups %s: %.1f ms (compute %.1f, exchange %.1f, sync %.1f),"
          + " %.2f MB/step, %.1f MB kept per device, %.2fx recomputation", grid, groups, seconds * 1e3,
          computeSeconds * 1e3, exchangeSeconds * 1e3, syncSeconds * 1e3, bytesPerStep / 1e6,
          storedBytesPerDevice / 1e6, recomputation);
    }
  }

  /** The stages of layers {@code [from, to)} and their input size. */
  private List<Stage> stages(Group group) {
    List<Stage> stages = new ArrayList<>();
    for (int l = group.from(); l < group.to(); l++) {
      stages.addAll(layers.get(l).stages());
    }
    return stages;
  }

  /** The input size of every layer boundary: {@code [l][0]} rows, {@code [l][1]} columns. */
  private int[][] sizes() {
    int[][] sizes = new int[layers.size() + 1][];
    sizes[0] = new int[] {height, width};
    for (int l = 0; l < layers.size(); l++) {
      int h = sizes[l][0];
      int w = sizes[l][1];
      for (Stage s : layers.get(l).stages()) {
        h = s.height().outputSize(h);
        w = s.width().outputSize(w);
      }
      sizes[l + 1] = new int[] {h, w};
    }
    return sizes;
  }

  /** The predicted cost of tiling {@code groups} (consecutive, covering every layer) on {@code grid}. */
  public Cost cost(Grid grid, List<Group> groups) {
    int[][] sizes = sizes();
    int expect = 0;
    for (Group g : groups) {
      if (g.from() != expect || g.to() <= g.from()) {
        throw new IllegalArgumentException("groups " + groups + " do not cover layers 0-" + (layers.size() - 1)
            + " in order");
      }
      expect = g.to();
    }
    if (expect != layers.size()) {
      throw new IllegalArgumentException("groups " + groups + " do not cover layers 0-" + (layers.size() - 1));
    }
    int k = grid.tiles();
    double compute = 0;
    double exchange = 0;
    double sync = 0;
    double bytes = 0;
    double[] stored = new double[k];
    double tiledFlops = 0;
    double untiledFlops = 0;
    for (Group g : groups) {
      GroupParts parts = groupParts(grid, g, sizes);
      compute += parts.compute();
      exchange += parts.exchange();
      sync += parts.sync();
      bytes += parts.bytes();
      tiledFlops += parts.tiledFlops();
      untiledFlops += parts.untiledFlops();
      for (int t = 0; t < k; t++) {
        stored[t] += parts.stored()[t];
      }
    }
    if (k > 1) {
      long weights = layers.stream().mapToLong(TiledLayer::weights).sum();
      sync += ring(k, (double) weights * Float.BYTES);
      bytes += k * ringBytesPerMember(k, (double) weights * Float.BYTES);
      // The last group's output onto the device running the rest (tile 0's), its gradient back.
      TiledLayer last = layers.get(layers.size() - 1);
      int channels = last.stages().get(last.stages().size() - 1).outChannels();
      int[] out = sizes[layers.size()];
      Span[] rows = Span.split(out[0], grid.rows());
      Span[] columns = Span.split(out[1], grid.columns());
      double gathered = ((double) out[0] * out[1] - (double) rows[0].length() * columns[0].length())
          * channels * batch * Float.BYTES;
      exchange += 2 * (gathered / linkBytesPerSecond + hopSeconds);
      bytes += 2 * gathered;
    }
    double storedMax = 0;
    for (double s : stored) {
      storedMax = Math.max(storedMax, s);
    }
    return new Cost(grid, List.copyOf(groups), compute + exchange + sync, compute, exchange, sync, bytes, storedMax,
        tiledFlops / untiledFlops);
  }

  /** A ring AllReduce of {@code bytes} among {@code k}: {@code 2(k-1)} rounds of a {@code 1/k} chunk. */
  private double ring(int k, double bytes) {
    return 2 * (k - 1) * (bytes / k / linkBytesPerSecond + hopSeconds);
  }

  private static double ringBytesPerMember(int k, double bytes) {
    return 2.0 * (k - 1) / k * bytes;
  }

  /** The grouping with the shortest predicted critical path on {@code grid}, and what it costs. */
  public Cost best(Grid grid) {
    int n = layers.size();
    // Each group's cost does not depend on the others (a boundary's halo is the later group's,
    // against the same even split of the map), so the best groupings of prefixes extend.
    int[][] sizes = sizes();
    Map<Group, Double> alone = new HashMap<>();
    double[] best = new double[n + 1];
    int[] cut = new int[n + 1];
    for (int j = 1; j <= n; j++) {
      best[j] = Double.POSITIVE_INFINITY;
      for (int i = 0; i < j; i++) {
        Group g = new Group(i, j);
        Double seconds = alone.computeIfAbsent(g, x -> groupSeconds(grid, x, sizes));
        if (seconds != null && best[i] + seconds < best[j]) {
          best[j] = best[i] + seconds;
          cut[j] = i;
        }
      }
    }
    if (best[n] == Double.POSITIVE_INFINITY) {
      throw new IllegalArgumentException("a " + grid + " grid does not fit the tiled layers' outputs");
    }
    List<Group> groups = new ArrayList<>();
    for (int j = n; j > 0; j = cut[j]) {
      groups.add(0, new Group(cut[j], j));
    }
    return cost(grid, groups);
  }

  /**
   * What one group adds to {@link #cost}: the slowest tile's compute, the halo into it (forward and
   * its gradient back), its BatchNorm sums; independent of the other groups.
   */
  private record GroupParts(double compute, double exchange, double sync, double bytes, double[] stored,
      double tiledFlops, double untiledFlops) {
    double seconds() {
      return compute + exchange + sync;
    }
  }

  private GroupParts groupParts(Grid grid, Group g, int[][] sizes) {
    List<Stage> stages = stages(g);
    TileGeometry geometry = TileGeometry.of(stages, sizes[g.from()][0], sizes[g.from()][1], grid.rows(),
        grid.columns());
    int k = grid.tiles();
    double slowest = 0;
    double haloBytes = 0;
    double bytes = 0;
    double tiledFlops = 0;
    double[] stored = new double[k];
    for (int t = 0; t < k; t++) {
      double flops = geometry.forwardFlops(t) * batch;
      tiledFlops += flops;
      slowest = Math.max(slowest, flops * (1 + backwardFactor) / flopsPerSecond);
      stored[t] = geometry.storedFloats(t) * batch * Float.BYTES;
      if (g.from() > 0) {
        double halo = (double) geometry.halo(t) * stages.get(0).inChannels() * batch * Float.BYTES;
        haloBytes = Math.max(haloBytes, halo);
        bytes += 2 * halo; // the halo forward, its gradient back
      }
    }
    double exchange = g.from() > 0 && k > 1 ? 2 * (haloBytes / linkBytesPerSecond + hopSeconds) : 0;
    double sync = 0;
    for (Stage s : stages) {
      if (s.normalized() && k > 1) {
        // Per-channel sum and sum of squares forward, two gradient sums backward, each a ring AllReduce.
        sync += 2 * ring(k, 2.0 * s.outChannels() * Float.BYTES);
        bytes += 2 * k * ringBytesPerMember(k, 2.0 * s.outChannels() * Float.BYTES);
      }
    }
    return new GroupParts(slowest, exchange, sync, bytes, stored, tiledFlops,
        geometry.untiledForwardFlops() * batch);
  }

  /** A group's predicted seconds in a grouping; null when the grid does not fit its output. */
  private Double groupSeconds(Grid grid, Group g, int[][] sizes) {
    int[] out = sizes[g.to()];
    if (grid.rows() > out[0] || grid.columns() > out[1]) {
      return null;
    }
    return groupParts(grid, g, sizes).seconds();
  }

  /**
   * The best of the groupings that fuse every {@code size} consecutive layers (the last group takes
   * what is left), over every size: what a fixed rule would choose at best.
   */
  public Cost bestFixed(Grid grid) {
    Cost best = null;
    for (int size = 1; size <= layers.size(); size++) {
      List<Group> groups = new ArrayList<>();
      for (int from = 0; from < layers.size(); from += size) {
        groups.add(new Group(from, Math.min(layers.size(), from + size)));
      }
      Cost c;
      try {
        c = cost(grid, groups);
      } catch (IllegalArgumentException doesNotFit) {
        continue;
      }
      if (best == null || c.seconds() < best.seconds()) {
        best = c;
      }
    }
    return best;
  }

  /** The grids of {@code k} tiles: every {@code rows x columns} with that product. */
  public static List<Grid> grids(int k) {
    List<Grid> grids = new ArrayList<>();
    for (int r = 1; r <= k; r++) {
      if (k % r == 0) {
        grids.add(new Grid(r, k / r));
      }
    }
    return grids;
  }

  /** The best grid and grouping for {@code k} tiles; null when no grid of {@code k} fits. */
  public Cost best(int k) {
    Cost best = null;
    for (Grid grid : grids(k)) {
      Cost c;
      try {
        c = best(grid);
      } catch (IllegalArgumentException doesNotFit) {
        continue;
      }
      if (best == null || c.seconds() < best.seconds()) {
        best = c;
      }
    }
    return best;
  }
}
