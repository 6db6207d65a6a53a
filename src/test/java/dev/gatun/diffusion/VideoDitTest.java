package dev.gatun.diffusion;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import dev.gatun.testing.TinyVideoDit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The video DiT's forward against a double-precision reference of the same weights, and which tokens see which. */
@Tag("kernel")
class VideoDitTest {
    @TempDir Path tmp;

    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (boolean full : new boolean[] {false, true}) cases.add(Arguments.of(device, full));
        return cases;
    }

    @ParameterizedTest(name = "{0} full={1}")
    @MethodSource("cases")
    void forwardMatchesTheDoubleReference(Device device, boolean full) throws Exception {
        long seed = Seeds.of("dit" + device + full);
        TinyVideoDit ref = new TinyVideoDit(Files.createDirectories(tmp.resolve("m")), TinyVideoDit.config(full), seed);
        // T = 2 frame groups of S = 2×3 tokens (1 group of 2×2 at small scale), two samples at different timesteps and conditions
        int batch = 2, frames = TestDevices.small() ? 2 : 4, height = 4, width = TestDevices.small() ? 4 : 6;
        float[] x = Seeds.gaussian(new Random(seed), batch * 4 * frames * height * width, 1);
        double[] timesteps = {999, 17.5};
        int[] conditions = {1, 3};
        double[] expected = ref.forward(x, batch, frames, height, width, timesteps, conditions);
        try (VideoDit dit = VideoDit.load(ref.dir, device);
             Tensor tx = Tensor.of(device, DType.F32, x, batch, 4, frames, height, width);
             Tensor out = dit.forward(tx, timesteps, conditions)) {
            Numerics.assertClose("VideoDit " + device.description() + (full ? " full" : " spatial/temporal"), DType.F32,
                    out.toFloatArray(), expected, null);
        }
    }

    /** A change in frame group 0 reaches frame group 1 only through a temporal (or full) block. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.gatun.testing.TestDevices#all")
    void spatialBlocksKeepFramesApartAndTemporalBlocksJoinThem(Device device) throws Exception {
        long seed = Seeds.of("alternation" + device);
        VideoDitConfig base = TinyVideoDit.config(false);
        int frames = 4, height = 4, width = 4, groupElements = 2 * height * width; // frames 0..1 are group 0 (pt = 2)
        float[] x = Seeds.gaussian(new Random(seed), 4 * frames * height * width, 1);
        float[] perturbed = x.clone();
        for (int c = 0; c < 4; c++) perturbed[c * frames * height * width + 3] += 1; // frame 0, one cell, every channel
        for (int layers = 1; layers <= 2; layers++)
            for (boolean full : new boolean[] {false, true}) {
                VideoDitConfig config = new VideoDitConfig(base.inChannels(), base.patchT(), base.patchH(), base.patchW(), base.hiddenSize(),
                        layers, base.numHeads(), base.mlpHidden(), base.frequencyDim(), base.numConditions(), full, base.prediction(),
                        base.layerNormEps(), DType.F32);
                Path dir = VideoDit.writeRandom(Files.createDirectories(tmp.resolve("l" + layers + full)), config, seed);
                float[] a, b;
                try (VideoDit dit = VideoDit.load(dir, device)) {
                    a = run(dit, device, x, frames, height, width);
                    b = run(dit, device, perturbed, frames, height, width);
                }
                boolean group1Same = true, group0Same = true;
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < groupElements; i++) {
                        int at = c * frames * height * width;
                        group0Same &= a[at + i] == b[at + i];
                        group1Same &= a[at + groupElements + i] == b[at + groupElements + i];
                    }
                String what = layers + " block(s), " + (full ? "full" : "spatial/temporal") + " attention";
                assertTrue(!group0Same, what + ": the perturbed frame group must change");
                assertEquals(layers == 1 && !full, group1Same, what + ": frame group 1 " + (group1Same ? "did not change" : "changed"));
            }
    }

    private static float[] run(VideoDit dit, Device device, float[] x, int frames, int height, int width) {
        try (Tensor tx = Tensor.of(device, DType.F32, x, 1, 4, frames, height, width); Tensor out = dit.forward(tx, new double[] {500}, new int[] {0})) {
            return out.toFloatArray();
        }
    }

    @Test
    void badInputIsOneClearSentence() throws Exception {
        Device cpu = TestDevices.all().getFirst();
        TinyVideoDit ref = new TinyVideoDit(Files.createDirectories(tmp.resolve("m")), TinyVideoDit.config(false), 1);
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> VideoDit.load(tmp.resolve("nope"), cpu));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        try (VideoDit dit = VideoDit.load(ref.dir, cpu)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dit.requireLatentShape(4, 4, 5, 4));
            assertTrue(e.getMessage().contains("multiples of the patch size 2×2×2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> dit.requireLatentShape(3, 4, 4, 4));
            assertTrue(e.getMessage().contains("3 channels"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> dit.requireLatentShape(4, 0, 4, 4));
            assertTrue(e.getMessage().contains("at least one"), e.getMessage());
            try (Tensor x = Tensor.empty(cpu, DType.F32, 1, 4, 2, 2, 2)) {
                x.fillBytes((byte) 0);
                e = assertThrows(IllegalArgumentException.class, () -> dit.forward(x, new double[] {1}, new int[] {4}));
                assertTrue(e.getMessage().contains("condition id 4"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> dit.forward(x, new double[] {1, 2}, new int[] {0}));
                assertTrue(e.getMessage().contains("1 samples"), e.getMessage());
            }
        }
        Files.writeString(ref.dir.resolve("config.json"), Files.readString(ref.dir.resolve("config.json")).replace("\"hidden_size\" : 32", "\"hidden_size\" : 48"));
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> VideoDit.load(ref.dir, cpu).close());
        assertTrue(shape.getMessage().contains("config.json implies"), shape.getMessage());
    }

    @Test
    void configRoundTripsThroughJson() {
        VideoDitConfig c = TinyVideoDit.config(true);
        assertEquals(c, VideoDitConfig.fromJson(c.toJson()));
        assertArrayEquals(new long[] {32, 32}, VideoDit.weightShapes(c).get("blocks.1.attn.proj.weight"));
    }

    @Test
    void configSizesBelowOneAreRefusedByName() {
        VideoDitConfig c = TinyVideoDit.config(true);
        for (String key : new String[] {"in_channels", "hidden_size", "num_layers", "num_attention_heads", "mlp_hidden_size", "frequency_embedding_size"}) {
            var zero = c.toJson().put(key, 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VideoDitConfig.fromJson(zero), key);
            assertTrue(e.getMessage().contains(key + " must be >= 1, got 0"), e.getMessage());
        }
        for (int axis = 0; axis < 3; axis++) {
            var zero = c.toJson();
            ((com.fasterxml.jackson.databind.node.ArrayNode) zero.get("patch_size")).set(axis, 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VideoDitConfig.fromJson(zero));
            assertTrue(e.getMessage().contains("patch_size[" + axis + "] must be >= 1, got 0"), e.getMessage());
        }
        var negative = c.toJson().put("num_conditions", -1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> VideoDitConfig.fromJson(negative)).getMessage().contains("num_conditions must be >= 0"));
    }
}
