package dev.gatun.bench.plot;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What every chart shares: a white image with a title and a subtitle (device and date), the plot
 * area's frame, axes with ticks and labels, a legend, the palette, and writing the PNG.
 */
final class Canvas {
    static {
        // charts are drawn off screen; this must be set before AWT's graphics environment starts
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    /** Colour-blind-safe (Okabe-Ito) series colours. */
    static final Color[] PALETTE = {new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115), new Color(204, 121, 167),
            new Color(230, 159, 0), new Color(86, 180, 233), new Color(0, 0, 0), new Color(240, 228, 66)};
    static final Color GRID = new Color(225, 225, 225), AXIS = new Color(60, 60, 60);
    static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 18), TEXT = new Font(Font.SANS_SERIF, Font.PLAIN, 13),
            SMALL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);

    final BufferedImage image;
    final Graphics2D g;
    final int width, height;

    Canvas(int width, int height, String title, String subtitle) {
        if (width < 200 || height < 150) throw new IllegalArgumentException("chart: " + width + "x" + height + " pixels is too small; at least 200x150");
        this.width = width;
        this.height = height;
        image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(TITLE);
        g.drawString(title, (width - g.getFontMetrics().stringWidth(title)) / 2, 26);
        g.setFont(TEXT);
        g.setColor(AXIS);
        g.drawString(subtitle, (width - g.getFontMetrics().stringWidth(subtitle)) / 2, 46);
    }

    static Color color(int i) { return PALETTE[i % PALETTE.length]; }

    /** Grid lines, ticks and tick labels of {@code x} (bottom) and {@code y} (left), the frame, and both axis titles. */
    void axes(Axis x, Axis y, int left, int top, int right, int bottom, String xLabel, String yLabel) {
        xAxis(x, left, top, right, bottom, xLabel);
        g.setFont(SMALL);
        var fm = g.getFontMetrics();
        for (double t : y.ticks()) {
            int py = (int) Math.round(y.pixel(t, bottom, top));
            g.setColor(GRID);
            g.drawLine(left, py, right, py);
            g.setColor(AXIS);
            g.drawLine(left - 5, py, left, py);
            String s = Axis.label(t);
            g.drawString(s, left - 8 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
        }
        frame(left, top, right, bottom);
        g.setFont(TEXT);
        fm = g.getFontMetrics();
        var saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(top + bottom + fm.stringWidth(yLabel)) / 2, left - 58);
        g.setTransform(saved);
    }

    /** Vertical grid lines, ticks and tick labels of {@code x} along the bottom, and its title under them. */
    void xAxis(Axis x, int left, int top, int right, int bottom, String xLabel) {
        g.setFont(SMALL);
        var fm = g.getFontMetrics();
        for (double t : x.ticks()) {
            int px = (int) Math.round(x.pixel(t, left, right));
            g.setColor(GRID);
            g.drawLine(px, top, px, bottom);
            g.setColor(AXIS);
            g.drawLine(px, bottom, px, bottom + 5);
            String s = Axis.label(t);
            g.drawString(s, px - fm.stringWidth(s) / 2, bottom + 8 + fm.getAscent());
        }
        g.setFont(TEXT);
        fm = g.getFontMetrics();
        g.setColor(AXIS);
        g.drawString(xLabel, (left + right - fm.stringWidth(xLabel)) / 2, bottom + 44);
    }

    void frame(int left, int top, int right, int bottom) {
        g.setColor(AXIS);
        g.setStroke(new BasicStroke(1.2f));
        g.drawRect(left, top, right - left, bottom - top);
        g.setStroke(new BasicStroke(1f));
    }

    /**
     * A legend box in the corner of the plot area that hides the fewest of {@code occupied} (pixel
     * points of the data): each entry a sample of its series' line or marker, and its name.
     */
    void legend(List<String> names, List<Color> colors, List<LineChart.Style> styles, int left, int top, int right, int bottom,
                List<double[]> occupied) {
        if (names.isEmpty()) return;
        g.setFont(SMALL);
        var fm = g.getFontMetrics();
        int w = 0;
        for (String n : names) w = Math.max(w, fm.stringWidth(n));
        int rowH = fm.getHeight() + 2, boxW = w + 44, boxH = rowH * names.size() + 8;
        int[][] corners = {{right - boxW - 8, top + 8}, {left + 8, top + 8}, {right - boxW - 8, bottom - boxH - 8}, {left + 8, bottom - boxH - 8}};
        int x0 = corners[0][0], y0 = corners[0][1], fewest = Integer.MAX_VALUE;
        for (int[] c : corners) {
            int hidden = 0;
            for (double[] p : occupied) if (p[0] >= c[0] && p[0] <= c[0] + boxW && p[1] >= c[1] && p[1] <= c[1] + boxH) hidden++;
            if (hidden < fewest) {
                fewest = hidden;
                x0 = c[0];
                y0 = c[1];
            }
        }
        g.setColor(new Color(255, 255, 255, 225));
        g.fillRect(x0, y0, boxW, boxH);
        g.setColor(GRID.darker());
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x0, y0, boxW, boxH);
        for (int i = 0; i < names.size(); i++) {
            int cy = y0 + 4 + rowH * i + rowH / 2;
            g.setColor(colors.get(i));
            LineChart.Style style = styles.get(i);
            if (style != LineChart.Style.POINTS) {
                g.setStroke(stroke(style == LineChart.Style.DASHED));
                g.drawLine(x0 + 6, cy, x0 + 30, cy);
            }
            if (style != LineChart.Style.DASHED) marker(x0 + 18, cy);
            g.setStroke(new BasicStroke(1f));
            g.setColor(Color.BLACK);
            g.drawString(names.get(i), x0 + 36, cy + fm.getAscent() / 2 - 1);
        }
    }

    /** A filled circle centred on (x, y), in the current colour. */
    void marker(double x, double y) {
        g.fill(new java.awt.geom.Ellipse2D.Double(x - 3.5, y - 3.5, 7, 7));
    }

    static BasicStroke stroke(boolean dashed) {
        return dashed ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f)
                : new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND);
    }

    /** Writes the image as PNG to {@code file} (creating its folder) and returns the file. */
    Path write(Path file) {
        g.dispose();
        try {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) Files.createDirectories(dir);
            if (!ImageIO.write(image, "png", file.toFile())) throw new IllegalStateException("chart: no PNG writer in this JDK");
        } catch (IOException e) {
            throw new UncheckedIOException("chart: cannot write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }
}
