package dev.gatun.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Latent frames decode through the documented fixed map, and the PNGs and the looping GIF read back with ImageIO. */
class VideoFramesTest {
    @TempDir Path tmp;

    @Test
    void framesDecodeAndReadBack() throws Exception {
        int c = 4, f = 3, h = 2, w = 5, up = 3;
        float[] latent = new float[c * f * h * w];
        for (int i = 0; i < latent.length; i++) latent[i] = (float) Math.sin(i) * 1.3f; // beyond [-1, 1] too: clamped
        List<BufferedImage> frames = VideoFrames.rgb(latent, c, f, h, w, up);
        assertEquals(f, frames.size());
        // frame 2, cell (1, 4): channels 0..2 are R, G, B through 127.5 (v + 1), clamped
        int at = 1 * w + 4, rgb = frames.get(2).getRGB(4 * up + 2, 1 * up + 1) & 0xFFFFFF;
        int r = VideoFrames.toByte(latent[(0 * f + 2) * h * w + at]), g = VideoFrames.toByte(latent[(1 * f + 2) * h * w + at]),
                b = VideoFrames.toByte(latent[(2 * f + 2) * h * w + at]);
        assertEquals(r << 16 | g << 8 | b, rgb);
        assertEquals(255, VideoFrames.toByte(7f));
        assertEquals(0, VideoFrames.toByte(-7f));
        assertEquals(128, VideoFrames.toByte(0f));

        List<Path> pngs = VideoFrames.writePngs(frames, tmp.resolve("out"));
        assertEquals(f, pngs.size());
        for (Path png : pngs) {
            BufferedImage image = ImageIO.read(png.toFile());
            assertEquals(w * up, image.getWidth());
            assertEquals(h * up, image.getHeight());
        }
        assertEquals(rgb, ImageIO.read(pngs.get(2).toFile()).getRGB(4 * up + 2, 1 * up + 1) & 0xFFFFFF, "PNG is lossless");

        Path gif = tmp.resolve("out/video.gif");
        VideoFrames.writeGif(frames, gif, 120);
        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
            reader.setInput(in);
            assertEquals(f, reader.getNumImages(true));
            for (int i = 0; i < f; i++) {
                assertEquals(w * up, reader.getWidth(i));
                assertEquals(h * up, reader.getHeight(i));
                IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(i).getAsTree("javax_imageio_gif_image_1.0");
                IIOMetadataNode control = (IIOMetadataNode) root.getElementsByTagName("GraphicControlExtension").item(0);
                assertEquals("12", control.getAttribute("delayTime"));
            }
            IIOMetadataNode app = (IIOMetadataNode) ((IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_gif_image_1.0"))
                    .getElementsByTagName("ApplicationExtension").item(0);
            assertEquals("NETSCAPE", app.getAttribute("applicationID"));
        } finally {
            reader.dispose();
        }
        assertThrows(IllegalArgumentException.class, () -> VideoFrames.rgb(latent, c, f, h, w + 1, up));
    }
}
