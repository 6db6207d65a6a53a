package dev.gatun.io;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Frames of a denoised latent video as pictures a person can open: one PNG per frame and an
 * animated, looping GIF (javax.imageio, headless).
 *
 * <p>There is no VAE: latent channels 0, 1, 2 are read directly as R, G, B (a latent with fewer
 * channels repeats them: 1 channel is grey) through the fixed linear map {@code pixel = 127.5·(v + 1)},
 * clamped to [0, 255] (so the latent range [−1, 1] fills the byte range), and each latent cell
 * becomes an {@code upscale × upscale} block of pixels.
 */
public final class VideoFrames {
    private VideoFrames() {}

    /** RGB frames of {@code latent [channels, frames, height, width]} (row-major), each pixel repeated upscale × upscale. */
    public static List<BufferedImage> rgb(float[] latent, int channels, int frames, int height, int width, int upscale) {
        if (channels < 1 || frames < 1 || height < 1 || width < 1 || (long) channels * frames * height * width != latent.length)
            throw new IllegalArgumentException("the latent has " + latent.length + " values, not " + channels + "×" + frames + "×" + height + "×" + width);
        if (upscale < 1 || (long) height * upscale > 16384 || (long) width * upscale > 16384)
            throw new IllegalArgumentException("upscale must be >= 1 and keep frames within 16384 pixels, got " + upscale);
        List<BufferedImage> images = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
            BufferedImage image = new BufferedImage(width * upscale, height * upscale, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    int rgb = 0;
                    for (int c = 0; c < 3; c++) {
                        float v = latent[((c % channels) * frames + f) * height * width + y * width + x];
                        rgb = rgb << 8 | toByte(v);
                    }
                    for (int dy = 0; dy < upscale; dy++)
                        for (int dx = 0; dx < upscale; dx++) image.setRGB(x * upscale + dx, y * upscale + dy, rgb);
                }
            images.add(image);
        }
        return images;
    }

    /** 127.5·(v + 1) rounded and clamped to a byte; NaN is 0. */
    static int toByte(float v) {
        double p = Math.rint(127.5 * (v + 1.0));
        return Double.isNaN(p) ? 0 : (int) Math.max(0, Math.min(255, p));
    }

    /** Writes {@code frame_000.png}, {@code frame_001.png}, ... into {@code dir}; returns the files. */
    public static List<Path> writePngs(List<BufferedImage> frames, Path dir) {
        List<Path> files = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            for (int i = 0; i < frames.size(); i++) {
                Path file = dir.resolve(String.format("frame_%03d.png", i));
                if (!ImageIO.write(frames.get(i), "png", file.toFile())) throw new IOException("no PNG writer in this JDK");
                files.add(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the frames into " + dir + ": " + e.getMessage(), e);
        }
        return files;
    }

    /** Writes an animated GIF that loops forever, {@code delayMillis} per frame (GIF keeps hundredths of a second). */
    public static void writeGif(List<BufferedImage> frames, Path file, int delayMillis) {
        if (frames.isEmpty()) throw new IllegalArgumentException("a GIF needs at least one frame");
        if (delayMillis < 0 || delayMillis > 655_350) throw new IllegalArgumentException("the frame delay must be in [0, 655350] ms, got " + delayMillis);
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(Files.newOutputStream(file))) {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(frames.getFirst()), param);
            animate(meta, delayMillis / 10);
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            for (BufferedImage frame : frames) writer.writeToSequence(new IIOImage(frame, null, meta), param);
            writer.endWriteSequence();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            writer.dispose();
        }
    }

    /** The per-frame delay (graphic control extension) and the NETSCAPE 2.0 loop-forever extension. */
    private static void animate(IIOMetadata meta, int delayHundredths) throws IIOInvalidTreeException {
        String format = meta.getNativeMetadataFormatName();
        IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(format);
        IIOMetadataNode control = child(root, "GraphicControlExtension");
        control.setAttribute("disposalMethod", "none");
        control.setAttribute("userInputFlag", "FALSE");
        control.setAttribute("transparentColorFlag", "FALSE");
        control.setAttribute("delayTime", Integer.toString(delayHundredths));
        control.setAttribute("transparentColorIndex", "0");
        IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
        app.setAttribute("applicationID", "NETSCAPE");
        app.setAttribute("authenticationCode", "2.0");
        app.setUserObject(new byte[] {1, 0, 0}); // sub-block 1: loop count 0 = forever
        child(root, "ApplicationExtensions").appendChild(app);
        meta.setFromTree(format, root);
    }

    private static IIOMetadataNode child(IIOMetadataNode root, String name) {
        for (int i = 0; i < root.getLength(); i++)
            if (root.item(i).getNodeName().equalsIgnoreCase(name)) return (IIOMetadataNode) root.item(i);
        IIOMetadataNode node = new IIOMetadataNode(name);
        root.appendChild(node);
        return node;
    }
}
