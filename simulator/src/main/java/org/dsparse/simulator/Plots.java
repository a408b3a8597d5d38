package org.dsparse.simulator;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * PNG figures beside a run's JSON, drawn with JFreeChart: bars per device or per measure for the two
 * modes, and accuracy against training steps. Headless: no display is needed.
 */
public final class Plots {
  private static final int WIDTH = 900;
  private static final int HEIGHT = 500;

  static {
    System.setProperty("java.awt.headless", "true");
  }

  private Plots() {}

  /**
   * A grouped bar chart: for each category (x), one bar per series.
   *
   * @param values by series, then category, in the order to draw
   */
  public static Path bars(Path file, String title, String axis, Map<String, Map<String, Double>> values)
      throws IOException {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    values.forEach((series, byCategory) -> byCategory.forEach((category, value) ->
        data.addValue(value, series, category)));
    JFreeChart chart = ChartFactory.createBarChart(title, null, axis, data, PlotOrientation.VERTICAL, true, false,
        false);
    chart.setBackgroundPaint(Color.WHITE);
    return save(file, chart);
  }

  /**
   * Lines of (x, y) points, one per series, with their points marked.
   *
   * @param points by series: {x, y} pairs in x order
   */
  public static Path lines(Path file, String title, String xAxis, String yAxis, Map<String, List<double[]>> points)
      throws IOException {
    XYSeriesCollection data = new XYSeriesCollection();
    points.forEach((name, xy) -> {
      XYSeries series = new XYSeries(name);
      xy.forEach(p -> series.add(p[0], p[1]));
      data.addSeries(series);
    });
    JFreeChart chart = ChartFactory.createXYLineChart(title, xAxis, yAxis, data, PlotOrientation.VERTICAL, true, false,
        false);
    chart.setBackgroundPaint(Color.WHITE);
    XYPlot plot = chart.getXYPlot();
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      renderer.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(renderer);
    return save(file, chart);
  }

  private static Path save(Path file, JFreeChart chart) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    return file;
  }
}
