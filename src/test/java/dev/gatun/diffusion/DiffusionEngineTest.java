package dev.gatun.diffusion;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TinyVideoDit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The diffusion engine: requests at different timesteps share model calls and still get exactly the latents
 * they get alone (cpu and emu are batch-invariant), CFG in the batch equals two separate model calls combined,
 * progress, cancellation and bad requests.
 */
class DiffusionEngineTest {
    @TempDir static Path tmp;
    static TinyVideoDit tiny;
    static final NoiseSchedule SCHEDULE = NoiseSchedule.stableDiffusion();
    static final int C = 4, F = 4, H = 4, W = 4;

    @BeforeAll
    static void writeModel() {
        tiny = new TinyVideoDit(tmp.resolve("dit"), TinyVideoDit.config(false), Seeds.of("engine-model"));
    }

    static DiffusionEngine.Request request(SamplerKind kind, int steps, Guidance guidance, int condition, long seed) {
        return new DiffusionEngine.Request(C, F, H, W, SamplerConfig.of(kind, PredictionType.EPSILON, steps), guidance, condition, seed);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "emu"})
    void requestsAtDifferentTimestepsShareABatchAndGetTheirOwnResults(String deviceName) {
        Device device = Devices.get(deviceName);
        long seed = Seeds.of("engine-batch" + deviceName);
        List<DiffusionEngine.Request> requests = List.of(
                request(SamplerKind.EULER, 4, null, 1, seed),
                request(SamplerKind.DDIM, 2, Guidance.of(3), 2, seed + 1),
                request(SamplerKind.DPMPP_2M, 3, new Guidance(2, 0.5), 0, seed + 2));
        long memoryBefore = device.allocator().stats().inUseBytes();
        try (VideoDit dit = VideoDit.load(tiny.dir, device)) {
            long weights = device.allocator().stats().inUseBytes();
            List<float[]> alone = new ArrayList<>();
            for (DiffusionEngine.Request r : requests)
                try (DiffusionEngine engine = new DiffusionEngine(dit, new DiffusionEngine.Config(8, SCHEDULE))) {
                    alone.add(engine.submit(r, null).await().latent());
                }
            assertEquals(weights, device.allocator().stats().inUseBytes(), "a closed engine holds nothing: no step leaked a tensor");
            try (DiffusionEngine engine = new DiffusionEngine(dit, new DiffusionEngine.Config(8, SCHEDULE))) {
                List<DiffusionEngine.Handle> handles = engine.submitAll(requests, List.of());
                for (int i = 0; i < requests.size(); i++) {
                    DiffusionEngine.Result result = handles.get(i).await();
                    assertArrayEquals(new long[] {C, F, H, W}, result.shape());
                    assertArrayEquals(alone.get(i), result.latent(), "request " + i + " batched vs alone on " + deviceName + Seeds.replay());
                    for (float v : result.latent()) assertTrue(Float.isFinite(v));
                }
                // 4 steps at most: every call held every running request (1 + 2 + 2 rows while all three ran)
                assertEquals(4, engine.modelCalls());
                assertEquals(5 + 5 + 3 + 1, engine.modelRows());
            }
        }
        assertEquals(memoryBefore, device.allocator().stats().inUseBytes(), "closing the model gives back its weights");
    }

    /** The engine's [cond | uncond] rows of one batch give the same latent as two batch-1 model calls stitched together. */
    @Test
    void guidanceInTheBatchEqualsTwoSeparateCalls() {
        Device cpu = Devices.get("cpu");
        long seed = Seeds.of("engine-cfg");
        Guidance guidance = Guidance.of(4);
        SamplerConfig config = SamplerConfig.of(SamplerKind.EULER, PredictionType.EPSILON, 3);
        try (VideoDit dit = VideoDit.load(tiny.dir, cpu); DiffusionSampler sampler = DiffusionSampler.create(config, SCHEDULE, 1, seed);
             Tensor x = Tensor.empty(cpu, DType.F32, 1, C, F, H, W)) {
            float[] engineResult;
            try (DiffusionEngine engine = new DiffusionEngine(dit, new DiffusionEngine.Config(2, SCHEDULE))) {
                engineResult = engine.submit(new DiffusionEngine.Request(C, F, H, W, config, guidance, 2, seed), null).await().latent();
            }
            float[] noise = new float[C * F * H * W];
            Random random = new Random(seed);
            for (int i = 0; i < noise.length; i++) noise[i] = (float) (random.nextGaussian() * sampler.initNoiseSigma());
            x.copyFrom(noise);
            while (!sampler.done()) {
                float scale = (float) sampler.modelInputScale();
                float[] in = x.toFloatArray();
                for (int i = 0; i < in.length; i++) in[i] *= scale;
                double[] t = {sampler.timestep()};
                float[] pair = new float[2 * in.length];
                try (Tensor input = Tensor.of(cpu, DType.F32, in, 1, C, F, H, W);
                     Tensor cond = dit.forward(input, t, new int[] {2}); Tensor uncond = dit.forward(input, t, new int[] {dit.config().nullCondition()})) {
                    System.arraycopy(cond.toFloatArray(), 0, pair, 0, in.length);
                    System.arraycopy(uncond.toFloatArray(), 0, pair, in.length, in.length);
                }
                try (Tensor model = Tensor.of(cpu, DType.F32, pair, 2, C, F, H, W)) {
                    sampler.step(x, model, guidance);
                }
            }
            assertArrayEquals(x.toFloatArray(), engineResult, "CFG batched in the engine vs two calls" + Seeds.replay());
        }
    }

    @Test
    void progressCancellationAndBadRequests() throws Exception {
        Device cpu = Devices.get("cpu");
        try (VideoDit dit = VideoDit.load(tiny.dir, cpu); DiffusionEngine engine = new DiffusionEngine(dit, new DiffusionEngine.Config(4, SCHEDULE))) {
            List<Integer> seen = new ArrayList<>(), totals = new ArrayList<>();
            DiffusionEngine.Handle[] slow = new DiffusionEngine.Handle[1];
            slow[0] = engine.submit(request(SamplerKind.EULER, 50, null, 0, 1), (step, total, t) -> {
                if (step == 2) slow[0].cancel();
            });
            DiffusionEngine.Handle ok = engine.submit(request(SamplerKind.DDIM, 3, null, 0, 2), (step, total, t) -> {
                totals.add(total);
                seen.add(step);
            });
            assertEquals(C * F * H * W, ok.await().latent().length);
            assertEquals(List.of(1, 2, 3), seen);
            assertEquals(List.of(3, 3, 3), totals);
            assertThrows(CancellationException.class, slow[0]::await);

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> engine.submit(new DiffusionEngine.Request(C, 3, H, W, SamplerConfig.of(SamplerKind.EULER, PredictionType.EPSILON, 2), null, 0, 0), null));
            assertTrue(e.getMessage().contains("multiples of the patch size"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new DiffusionEngine.Request(C, 0, H, W,
                    SamplerConfig.of(SamplerKind.EULER, PredictionType.EPSILON, 2), null, 0, 0));
            assertTrue(e.getMessage().contains("at least one"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> engine.submit(request(SamplerKind.EULER, 2, null, 7, 0), null));
            assertTrue(e.getMessage().contains("condition id 7"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> engine.submit(new DiffusionEngine.Request(C, F, H, W,
                    SamplerConfig.of(SamplerKind.FLOW_EULER, PredictionType.FLOW, 2), null, 0, 0), null));
            assertTrue(e.getMessage().contains("the model predicts EPSILON"), e.getMessage());
        }
    }
}
