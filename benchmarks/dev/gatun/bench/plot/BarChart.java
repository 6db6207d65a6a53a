package dev.gatun.bench.plot;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A horizontal bar chart: one labelled bar per row (so long row names stay readable), coloured by
 * group with a legend, the value printed at the end of each bar, and an optional dashed reference
 * line (100% of the ceiling, 1x the peer).
 */
public final class BarChart {
    public record Bar(String label, double value, String group) {}

    private final String title, subtitle, valueLabel, valueFormat;
    private final double reference;
    private final String referenceLabel;
    private final List<Bar> bars = new ArrayList<>();

    /**
     * @param valueFormat    how each bar's value is printed after it ({@code "%.1f%%"})
     * @param reference      where the dashed reference line goes (NaN: none)
     * @param referenceLabel its name, printed beside it
     */
    public BarChart(String title, String subtitle, String valueLabel, String valueFormat, double reference, String referenceLabel) {
        this.title = title;
        this.subtitle = subtitle;
        this.valueLabel = valueLabel;
        this.valueFormat = valueFormat;
        this.reference = reference;
        this.referenceLabel = referenceLabel;
    }

    public BarChart add(String label, double value, String group) {
        bars.add(new Bar(label, value, group));
        return this;
    }

    /** Draws the chart into a {@code width}-pixel-wide image as tall as its bars need. */
    public BufferedImage render(int width) { return draw(width).image; }

    /** Writes the chart as a 1000-pixel-wide PNG and returns {@code file}. */
    public Path write(Path file) { return draw(1000).write(file); }

    static int heightFor(int bars) { return 62 + Math.max(bars, 3) * 26 + 16 + 62; }

    private Canvas draw(int width) {
        Canvas c = new Canvas(width, heightFor(bars.size()), title, subtitle);
        c.g.setFont(Canvas.SMALL);
        var fm = c.g.getFontMetrics();
        int labelWidth = 0;
        for (Bar b : bars) labelWidth = Math.max(labelWidth, fm.stringWidth(b.label()));
        int left = Math.min(width / 2, labelWidth + 20), top = 62, right = width - 24, bottom = c.height - 62;
        double[] values = new double[bars.size() + 1];
        for (int i = 0; i < bars.size(); i++) values[i] = bars.get(i).value() * 1.12; // room for the printed value
        values[bars.size()] = Double.isNaN(reference) ? 0 : reference * 1.05;
        Axis x = Axis.covering(values, false, true);
        c.xAxis(x, left, top, right, bottom, valueLabel);
        List<String> groups = new ArrayList<>();
        for (Bar b : bars) if (!groups.contains(b.group())) groups.add(b.group());
        double slot = (bottom - top - 16.0) / Math.max(bars.size(), 1);
        List<double[]> drawn = new ArrayList<>();
        for (int i = 0; i < bars.size(); i++) {
            Bar b = bars.get(i);
            double y0 = top + 8 + slot * i, h = slot * 0.72;
            double x0 = x.pixel(0, left, right), x1 = Double.isFinite(b.value()) ? x.pixel(b.value(), left, right) : x0;
            c.g.setColor(Canvas.color(groups.indexOf(b.group())));
            c.g.fill(new java.awt.geom.Rectangle2D.Double(Math.min(x0, x1), y0, Math.abs(x1 - x0), h));
            for (double px = Math.min(x0, x1); px <= Math.max(x0, x1) + 60; px += 4) // the bar and its printed value
                for (double py = y0; py <= y0 + h; py += h / 4) drawn.add(new double[] {px, py});
            c.g.setColor(Color.BLACK);
            c.g.setFont(Canvas.SMALL);
            int textY = (int) (y0 + h / 2 + fm.getAscent() / 2.0 - 1);
            c.g.drawString(b.label(), left - 8 - fm.stringWidth(b.label()), textY);
            c.g.drawString(String.format(Locale.ROOT, valueFormat, b.value()), (int) Math.max(x0, x1) + 5, textY);
        }
        if (!Double.isNaN(reference)) {
            int px = (int) Math.round(x.pixel(reference, left, right));
            c.g.setColor(Canvas.AXIS);
            c.g.setStroke(Canvas.stroke(true));
            c.g.drawLine(px, top, px, bottom);
            c.g.setFont(Canvas.SMALL);
            c.g.drawString(referenceLabel, px - fm.stringWidth(referenceLabel) / 2, top - 4); // above the plot, clear of the bars
        }
        c.frame(left, top, right, bottom);
        if (groups.size() > 1) {
            List<Color> colors = new ArrayList<>();
            for (int i = 0; i < groups.size(); i++) colors.add(Canvas.color(i));
            c.legend(groups, colors, groups.stream().map(g -> LineChart.Style.LINE).toList(), left, top + 14, right, bottom, drawn);
        }
        return c;
    }
}
