package dev.gatun.bench.plot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.GraphicsEnvironment;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Charts are PNGs that ImageIO reads back at the promised size, with the series' colours drawn. */
class ChartTest {
    @TempDir Path dir;

    @Test
    void lineChartWritesAReadablePngWithEverySeriesDrawn() throws Exception {
        Path file = new LineChart("softmax: rate vs work", "cpu; 2026-01-01", "MiB moved", "GB/s", true, true)
                .add("Gatun cpu fp32", new double[] {4, 16, 64}, new double[] {10, 14, 9}, LineChart.Style.LINE)
                .add("ceiling", new double[] {4, 16, 64}, new double[] {30, 25, 12}, LineChart.Style.DASHED)
                .add("samples", new double[] {8, 32}, new double[] {5, 6}, LineChart.Style.POINTS)
                .write(dir.resolve("sub/line.png"));
        assertTrue(Files.size(file) > 0);
        BufferedImage image = ImageIO.read(file.toFile());
        assertEquals(1000, image.getWidth());
        assertEquals(620, image.getHeight());
        for (int i = 0; i < 3; i++) assertTrue(count(image, Canvas.color(i).getRGB()) > 20, "series " + i + " drawn");
        assertTrue(count(image, 0xFFFFFFFF) < image.getWidth() * image.getHeight() * 0.97, "not blank");
        assertTrue(GraphicsEnvironment.isHeadless(), "charts are drawn headless, whatever the display");
    }

    @Test
    void barChartIsAsTallAsItsBarsNeed() throws Exception {
        BarChart chart = new BarChart("% of ceiling", "cpu; 2026-01-01", "% of ceiling", "%.1f%%", 100, "ceiling");
        for (int i = 0; i < 7; i++) chart.add("row " + i, 10 + 12 * i, i % 2 == 0 ? "cpu" : "emu");
        BufferedImage image = ImageIO.read(chart.write(dir.resolve("bars.png")).toFile());
        assertEquals(1000, image.getWidth());
        assertEquals(BarChart.heightFor(7), image.getHeight());
        assertTrue(count(image, Canvas.color(0).getRGB()) > 500, "cpu bars drawn");
        assertTrue(count(image, Canvas.color(1).getRGB()) > 500, "emu bars drawn");
    }

    @Test
    void renderHonoursTheRequestedSizeAndSkipsUnshowableValues() {
        BufferedImage image = new LineChart("t", "s", "x", "y", false, true)
                .add("with gaps", new double[] {1, 2, 3, 4}, new double[] {1, Double.NaN, -1, 8}, LineChart.Style.LINE).render(640, 400);
        assertEquals(640, image.getWidth());
        assertEquals(400, image.getHeight());
        assertTrue(count(image, Canvas.color(0).getRGB()) > 10);
    }

    @Test
    void badInputIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new LineChart.Series("s", new double[2], new double[3], LineChart.Style.LINE));
        assertThrows(IllegalArgumentException.class, () -> new LineChart("t", "s", "x", "y", false, false).render(100, 50));
    }

    @Test
    void axisTicksAreRoundAndCoverTheData() {
        Axis linear = Axis.covering(new double[] {3, 47}, false, true);
        assertEquals(0, linear.min);
        assertEquals(50, linear.max);
        assertEquals(List.of(0.0, 10.0, 20.0, 30.0, 40.0, 50.0), linear.ticks());
        Axis log = Axis.covering(new double[] {0.3, 0, 420}, true, false);
        assertEquals(0.1, log.min, 1e-12);
        assertEquals(1000, log.max, 1e-9);
        assertEquals(List.of(0.1, 1.0, 10.0, 100.0, 1000.0), log.ticks());
        assertEquals(List.of(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0), Axis.covering(new double[] {1.5, 80}, true, false).ticks());
        assertEquals(0.5 / 4, log.pixel(Math.sqrt(10), 0, 1) - log.pixel(1, 0, 1), 1e-9); // half a decade of four
        assertEquals("2500", Axis.label(2500));
        assertEquals("25k", Axis.label(25000));
        assertEquals("12k", Axis.label(12000));
        assertEquals("0.25", Axis.label(0.25));
        assertEquals("3M", Axis.label(3e6));
    }

    private static int count(BufferedImage image, int rgb) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++)
            for (int x = 0; x < image.getWidth(); x++) if (image.getRGB(x, y) == rgb) n++;
        return n;
    }
}
