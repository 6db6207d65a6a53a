package dev.gatun.cli;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.diffusion.DiffusionEngine;
import dev.gatun.diffusion.Guidance;
import dev.gatun.diffusion.NoiseSchedule;
import dev.gatun.diffusion.PredictionType;
import dev.gatun.diffusion.SamplerConfig;
import dev.gatun.diffusion.SamplerKind;
import dev.gatun.diffusion.VideoDit;
import dev.gatun.diffusion.VideoDitConfig;
import dev.gatun.io.TemporaryFolder;
import dev.gatun.io.VideoFrames;
import dev.gatun.tensor.DType;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code gatun video}: denoises one latent video with a video DiT through the diffusion engine and writes its frames. */
final class VideoCommand {
    private VideoCommand() {}

    static final String USAGE = """
            usage: gatun video --model DIR|tiny [options]

            Denoises a latent video of the given size with a video DiT (config.json +
            model.safetensors; --model tiny makes a random-weight one in a temporary folder),
            printing a line per step, then writes frame_NNN.png for every latent frame and an
            animated video.gif into --out. There is no VAE: latent channels 0..2 are shown as
            R, G, B (127.5·(v + 1), clamped), each latent cell as an --upscale-sized square.

            options:
              --model DIR|tiny    the model folder, or "tiny" (required)
              --frames F          latent frames (default 8)
              --height H          latent rows (default 16)
              --width W           latent columns (default 16); F, H, W must be multiples of the model's patch
              --steps N           denoising steps (default 20)
              --sampler NAME      ddpm, ddim, euler, euler-a, dpm++2m, flow-euler (default: euler, or
                                  flow-euler for a flow-matching model)
              --guidance G        classifier-free guidance scale; 1 = off (default 1)
              --condition ID      the condition (class) id, 0 .. the model's num_conditions - 1 (default 0)
              --seed S            random seed (default 0)
              --out DIR           where the frames go (default ./video-out)
              --upscale K         pixels per latent cell (default 8)
              --fps N             GIF frames per second (default 8)
              --device NAME       cuda, emu, cpu (default: the best one, or GATUN_DEVICE)
            """;

    /** The tiny random model of {@code --model tiny}: 4 channels, 1×2×2 patches, 4 blocks of width 64. */
    static final VideoDitConfig TINY = new VideoDitConfig(4, 1, 2, 2, 64, 4, 4, 128, 64, 4, false, PredictionType.EPSILON, 1e-6f, DType.F32);

    static int run(List<String> options, PrintStream out) {
        if (options.contains("--help") || options.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String model = null, samplerName = null, device = null;
        int frames = 8, height = 16, width = 16, steps = 20, condition = 0, upscale = 8, fps = 8;
        double guidance = 1;
        long seed = 0;
        Path outDir = Path.of("video-out");
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            if (!o.startsWith("--")) throw new IllegalArgumentException("video: unexpected argument '" + o + "' (see gatun video --help)");
            if (i + 1 >= options.size()) throw new IllegalArgumentException("video: " + o + " needs a value (see gatun video --help)");
            String v = options.get(++i);
            switch (o) {
                case "--model" -> model = v;
                case "--frames" -> frames = parseInt(o, v);
                case "--height" -> height = parseInt(o, v);
                case "--width" -> width = parseInt(o, v);
                case "--steps" -> steps = parseInt(o, v);
                case "--sampler" -> samplerName = v;
                case "--guidance" -> guidance = parseDouble(o, v);
                case "--condition" -> condition = parseInt(o, v);
                case "--seed" -> seed = parseLong(o, v);
                case "--out" -> outDir = Path.of(v);
                case "--upscale" -> upscale = parseInt(o, v);
                case "--fps" -> fps = parseInt(o, v);
                case "--device" -> device = v;
                default -> throw new IllegalArgumentException("video: unknown option " + o + " (see gatun video --help)");
            }
        }
        if (model == null) throw new IllegalArgumentException("video: --model DIR or --model tiny is required (see gatun video --help)");
        if (frames < 1 || height < 1 || width < 1)
            throw new IllegalArgumentException("video: --frames, --height and --width must be >= 1, got " + frames + ", " + height + ", " + width);
        if (steps < 1) throw new IllegalArgumentException("video: --steps must be >= 1, got " + steps);
        if (upscale < 1 || upscale > 64) throw new IllegalArgumentException("video: --upscale must be in [1, 64], got " + upscale);
        if (fps < 1 || fps > 100) throw new IllegalArgumentException("video: --fps must be in [1, 100], got " + fps);
        if (!Double.isFinite(guidance)) throw new IllegalArgumentException("video: --guidance must be a finite number, got " + guidance);
        boolean tiny = model.equals("tiny");
        try (TemporaryFolder tinyFolder = tiny ? TemporaryFolder.create("gatun-tiny-dit-") : null) {
            Path dir = tiny ? VideoDit.writeRandom(tinyFolder.path(), TINY, seed) : Path.of(model);
            if (!tiny && !Files.isDirectory(dir)) throw new IllegalArgumentException("video: model folder " + dir + " does not exist or is not a folder");
            if (!tiny && !Files.exists(dir.resolve("config.json"))) throw new IllegalArgumentException("video: " + dir + " has no config.json: not a model folder");
            VideoDitConfig config = VideoDitConfig.load(dir);
            SamplerConfig sampler = SamplerConfig.of(samplerKind(samplerName, config.prediction()), config.prediction(), steps);
            Guidance cfg = guidance == 1 ? null : Guidance.of(guidance);
            DiffusionEngine.Request request = new DiffusionEngine.Request(config.inChannels(), frames, height, width, sampler, cfg, condition, seed);
            if (condition < 0 || condition >= Math.max(1, config.numConditions()))
                throw new IllegalArgumentException("video: --condition must be in [0, " + Math.max(1, config.numConditions()) + "), got " + condition);
            Device d = device == null ? Devices.best() : Devices.get(device);
            DiffusionEngine.Result result;
            try (VideoDit dit = load(dir, d);
                 DiffusionEngine engine = new DiffusionEngine(dit, new DiffusionEngine.Config(2, NoiseSchedule.stableDiffusion()))) {
                out.printf("video: %d×%d×%d latent (%d channels), %d %s steps%s on %s%n", frames, height, width, config.inChannels(), steps,
                        sampler.kind(), cfg == null ? "" : ", guidance " + guidance, d.description());
                long start = System.nanoTime();
                DiffusionEngine.Handle handle = engine.submit(request, (step, total, t) -> {
                    out.printf("step %d/%d  t=%.1f  %.2f s%n", step, total, t, (System.nanoTime() - start) / 1e9);
                    out.flush();
                });
                result = handle.await();
            }
            List<BufferedImage> images = VideoFrames.rgb(result.latent(), config.inChannels(), frames, height, width, upscale);
            List<Path> pngs = VideoFrames.writePngs(images, outDir);
            Path gif = outDir.resolve("video.gif");
            VideoFrames.writeGif(images, gif, 1000 / fps);
            out.printf("wrote %d frames (%d×%d pixels) to %s and %s%n", pngs.size(), width * upscale, height * upscale,
                    outDir.resolve("frame_NNN.png"), gif);
            return 0;
        }
    }

    private static VideoDit load(Path dir, Device device) {
        try {
            return VideoDit.load(dir, device);
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("video: cannot read the model in " + dir + ": " + e.getCause().getMessage(), e);
        }
    }

    static SamplerKind samplerKind(String name, PredictionType prediction) {
        if (name == null) return prediction == PredictionType.FLOW ? SamplerKind.FLOW_EULER : SamplerKind.EULER;
        SamplerKind kind = switch (name) {
            case "ddpm" -> SamplerKind.DDPM;
            case "ddim" -> SamplerKind.DDIM;
            case "euler" -> SamplerKind.EULER;
            case "euler-a" -> SamplerKind.EULER_ANCESTRAL;
            case "dpm++2m" -> SamplerKind.DPMPP_2M;
            case "flow-euler" -> SamplerKind.FLOW_EULER;
            default -> throw new IllegalArgumentException("video: --sampler must be one of ddpm, ddim, euler, euler-a, dpm++2m, flow-euler, got '" + name + "'");
        };
        if ((kind == SamplerKind.FLOW_EULER) != (prediction == PredictionType.FLOW))
            throw new IllegalArgumentException("video: --sampler " + name + " does not fit a model that predicts " + prediction
                    + (prediction == PredictionType.FLOW ? " (use flow-euler)" : " (flow-euler needs a flow-matching model)"));
        return kind;
    }

    private static int parseInt(String option, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("video: " + option + " needs a whole number, got '" + v + "'");
        }
    }

    private static long parseLong(String option, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("video: " + option + " needs a whole number, got '" + v + "'");
        }
    }

    private static double parseDouble(String option, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("video: " + option + " needs a number, got '" + v + "'");
        }
    }
}
