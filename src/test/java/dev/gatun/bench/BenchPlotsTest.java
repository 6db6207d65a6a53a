package dev.gatun.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** {@code gatun bench --plot}: one rate chart per op, the % of ceiling chart, and the peer chart when a peer ran. */
class BenchPlotsTest {
    @TempDir Path dir;

    private static BenchRow row(String op, String device, double size, double seconds, double rate, double ceiling, Double peerSeconds) {
        return new BenchRow(op, device, "fp32", "shape " + size, size, "MiB moved", seconds, rate, "GB/s", ceiling, "copy BW",
                peerSeconds == null ? null : "torch", peerSeconds);
    }

    @Test
    void writesOneChartPerOpAndTheSummaries() throws Exception {
        List<BenchRow> rows = List.of(row("softmax", "cpu", 4, 1e-3, 8, 20, null), row("softmax", "cpu", 16, 3e-3, 10, 15, null),
                row("softmax", "emu", 0.5, 0.2, 0.01, 25, null), row("decode", "cpu", 8, 2e-3, 5, 12, 4e-3),
                row("decode", "cpu", 32, 7e-3, 6, 10, 6e-3));
        List<Path> files = BenchPlots.write(rows, "cpu; 2026-01-01", dir.resolve("plots"));
        assertEquals(List.of("rate-softmax.png", "rate-decode.png", "percent-of-ceiling.png", "vs-peer.png"),
                files.stream().map(p -> p.getFileName().toString()).toList());
        for (Path f : files) {
            BufferedImage image = ImageIO.read(f.toFile());
            assertNotNull(image, f + " is a PNG");
            assertEquals(1000, image.getWidth());
        }
    }

    @Test
    void noPeerChartWithoutPeers() {
        List<Path> files = BenchPlots.write(List.of(row("rowsum", "cpu", 4, 1e-3, 8, 20, null)), "cpu", dir);
        assertEquals(List.of("rate-rowsum.png", "percent-of-ceiling.png"), files.stream().map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void peerRateIsTheSameWorkOverThePeersTime() {
        BenchRow r = row("decode", "cpu", 8, 2e-3, 5, 12, 4e-3);
        assertEquals(2.5, r.peerRate(), 1e-12); // 5 GB/s for 2 ms of work: the peer moved the same bytes in 4 ms
        assertEquals(100 * 5 / 12.0, r.percentOfCeiling(), 1e-12);
    }
}
