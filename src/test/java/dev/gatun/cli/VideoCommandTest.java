package dev.gatun.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code gatun video --model tiny} end to end on a tiny latent, and its one-sentence errors. */
class VideoCommandTest {
    @TempDir Path tmp;

    @Test
    void tinyModelDenoisesAndWritesFrames() throws Exception {
        Path out = tmp.resolve("frames");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = Main.run(List.of("video", "--model", "tiny", "--frames", "3", "--height", "4", "--width", "6", "--steps", "3",
                "--guidance", "2.5", "--seed", "5", "--upscale", "2", "--out", out.toString(), "--device", "cpu"),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        for (int step = 1; step <= 3; step++) assertTrue(text.contains("step " + step + "/3"), text);
        assertTrue(text.contains("video.gif"), text);
        for (int f = 0; f < 3; f++) {
            BufferedImage png = ImageIO.read(out.resolve(String.format("frame_%03d.png", f)).toFile());
            assertEquals(12, png.getWidth());
            assertEquals(8, png.getHeight());
        }
        assertFalse(Files.exists(out.resolve("frame_003.png")));
        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(out.resolve("video.gif").toFile())) {
            reader.setInput(in);
            assertEquals(3, reader.getNumImages(true));
        } finally {
            reader.dispose();
        }
    }

    /** One frame of one patch, one step, no guidance, and the largest upscale and frame rate: all accepted. */
    @Test
    void theSmallestVideoAtTheOptionsLimits() throws Exception {
        Path out = tmp.resolve("one");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = Main.run(List.of("video", "--model", "tiny", "--frames", "1", "--height", "2", "--width", "2", "--steps", "1", "--guidance", "1",
                "--upscale", "64", "--fps", "100", "--out", out.toString(), "--device", "cpu"), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        assertTrue(text.contains("step 1/1") && !text.contains("guidance"), text);
        BufferedImage png = ImageIO.read(out.resolve("frame_000.png").toFile());
        assertEquals(128, png.getWidth());
        assertEquals(128, png.getHeight());
        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(out.resolve("video.gif").toFile())) {
            reader.setInput(in);
            assertEquals(1, reader.getNumImages(true));
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_gif_image_1.0");
            assertEquals("1", ((IIOMetadataNode) root.getElementsByTagName("GraphicControlExtension").item(0)).getAttribute("delayTime"),
                    "100 fps: a delay of one hundredth of a second");
        } finally {
            reader.dispose();
        }
    }

    @Test
    void optionsJustPastTheirLimits() {
        assertTrue(error("--model", "tiny", "--height", "0").contains("must be >= 1"));
        assertTrue(error("--model", "tiny", "--width", "0").contains("must be >= 1"));
        assertTrue(error("--model", "tiny", "--steps", "0").contains("--steps must be >= 1"));
        assertTrue(error("--model", "tiny", "--upscale", "65").contains("--upscale must be in [1, 64]"));
        assertTrue(error("--model", "tiny", "--upscale", "0").contains("--upscale must be in [1, 64]"));
        assertTrue(error("--model", "tiny", "--fps", "101").contains("--fps must be in [1, 100]"));
        assertTrue(error("--model", "tiny", "--fps", "0").contains("--fps must be in [1, 100]"));
        assertTrue(error("--model", "tiny", "--guidance", "NaN").contains("--guidance must be a finite number"));
        assertTrue(error("--model", "tiny", "--condition", "-1", "--device", "cpu").contains("--condition must be in [0, "));
    }

    /** The one-sentence refusal of {@code gatun video args}; --out points into the temp folder in case a refusal regresses. */
    private String error(String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("video", "--out", tmp.resolve("refused").toString()));
        all.addAll(List.of(args));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(all, new PrintStream(new ByteArrayOutputStream())));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void badInputIsOneSentence() {
        assertTrue(error("--frames", "2").contains("--model"));
        assertTrue(error("--model", "tiny", "--frames", "0").contains("must be >= 1"));
        assertTrue(error("--model", "tiny", "--frames", "2", "--height", "5", "--width", "4", "--device", "cpu").contains("multiples of the patch size"));
        assertTrue(error("--model", tmp.resolve("missing").toString()).contains("does not exist"));
        assertTrue(error("--model", "tiny", "--sampler", "heun").contains("--sampler must be one of"));
        assertTrue(error("--model", "tiny", "--sampler", "flow-euler", "--device", "cpu").contains("flow-euler needs a flow-matching model"));
        assertTrue(error("--model", "tiny", "--steps", "x").contains("whole number"));
        assertTrue(error("--model", "tiny", "--bogus", "1").contains("unknown option"));
    }

    @Test
    void helpDescribesTheCommand() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertEquals(0, Main.run(List.of("video", "--help"), new PrintStream(bytes, true, StandardCharsets.UTF_8)));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("--guidance"));
    }
}
