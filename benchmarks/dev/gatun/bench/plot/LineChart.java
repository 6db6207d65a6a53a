package dev.gatun.bench.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An x-y chart of named series: lines (with a marker on each point when there are at most
 * {@value #MAX_MARKED} points), dashed lines (ceilings, references) or markers only (scatter), on
 * linear or logarithmic axes, with a legend. Points whose value cannot
 * be shown (NaN, or not positive on a log axis) are skipped and break the line.
 */
public final class LineChart {
    public enum Style { LINE, DASHED, POINTS }

    static final int MAX_MARKED = 40;

    public record Series(String name, double[] x, double[] y, Style style) {
        public Series {
            if (x.length != y.length)
                throw new IllegalArgumentException("chart series '" + name + "': " + x.length + " x values but " + y.length + " y values");
            x = x.clone();
            y = y.clone();
        }
    }

    private final String title, subtitle, xLabel, yLabel;
    private final boolean logX, logY;
    private final List<Series> series = new ArrayList<>();

    public LineChart(String title, String subtitle, String xLabel, String yLabel, boolean logX, boolean logY) {
        this.title = title;
        this.subtitle = subtitle;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
        this.logX = logX;
        this.logY = logY;
    }

    public LineChart add(Series s) {
        series.add(s);
        return this;
    }

    public LineChart add(String name, double[] x, double[] y, Style style) { return add(new Series(name, x, y, style)); }

    /** Draws the chart into a {@code width} x {@code height} image. */
    public BufferedImage render(int width, int height) { return draw(width, height).image; }

    /** Writes the chart as a 1000x620 PNG and returns {@code file}. */
    public Path write(Path file) { return draw(1000, 620).write(file); }

    private Canvas draw(int width, int height) {
        Canvas c = new Canvas(width, height, title, subtitle);
        Axis x = Axis.covering(all(true), logX, false), y = Axis.covering(all(false), logY, true);
        int left = 90, top = 62, right = width - 24, bottom = height - 62;
        c.axes(x, y, left, top, right, bottom, xLabel, yLabel);
        c.g.setClip(left, top, right - left + 1, bottom - top + 1);
        List<Color> colors = new ArrayList<>();
        List<double[]> drawn = new ArrayList<>();
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            Color color = Canvas.color(i);
            colors.add(color);
            c.g.setColor(color);
            Integer[] order = sortedByX(s);
            if (s.style() != Style.POINTS) {
                c.g.setStroke(Canvas.stroke(s.style() == Style.DASHED));
                Path2D.Double line = new Path2D.Double();
                boolean pen = false;
                for (int j : order) {
                    if (!x.shows(s.x()[j]) || !y.shows(s.y()[j])) {
                        pen = false;
                        continue;
                    }
                    double px = x.pixel(s.x()[j], left, right), py = y.pixel(s.y()[j], bottom, top);
                    if (pen) along(drawn, line.getCurrentPoint().getX(), line.getCurrentPoint().getY(), px, py);
                    if (pen) line.lineTo(px, py);
                    else line.moveTo(px, py);
                    pen = true;
                }
                c.g.draw(line);
            }
            boolean marked = s.style() == Style.POINTS || (s.style() == Style.LINE && s.x().length <= MAX_MARKED);
            for (int j : order)
                if (x.shows(s.x()[j]) && y.shows(s.y()[j])) {
                    double px = x.pixel(s.x()[j], left, right), py = y.pixel(s.y()[j], bottom, top);
                    drawn.add(new double[] {px, py});
                    if (marked) c.marker(px, py);
                }
        }
        c.g.setClip(null);
        c.g.setStroke(new BasicStroke(1f));
        c.legend(series.stream().map(Series::name).toList(), colors, series.stream().map(Series::style).toList(), left, top, right, bottom, drawn);
        return c;
    }

    /** Points every 4 pixels along a drawn segment, so that the legend avoids lines as well as markers. */
    private static void along(List<double[]> drawn, double x0, double y0, double x1, double y1) {
        int steps = (int) Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 4);
        for (int k = 1; k < steps; k++) drawn.add(new double[] {x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps});
    }

    private static Integer[] sortedByX(Series s) {
        Integer[] order = new Integer[s.x().length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(s.x()[a], s.x()[b]));
        return order;
    }

    private double[] all(boolean xs) {
        return series.stream().flatMapToDouble(s -> Arrays.stream(xs ? s.x() : s.y())).toArray();
    }
}
