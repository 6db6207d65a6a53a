package dev.gatun.cuda;

import dev.gatun.bindings.cuda.CuResult;
import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.DeviceOutOfMemoryException;
import dev.gatun.device.Devices;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.FinishReason;
import dev.gatun.llm.engine.Metrics;
import dev.gatun.llm.engine.Request;
import dev.gatun.llm.engine.RequestHandle;
import dev.gatun.llm.engine.Result;
import dev.gatun.llm.engine.TinyModels;
import dev.gatun.testing.CudaShim;
import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine on the cuda device over the driver shim, with injected recoverable faults: a launch
 * that fails mid-generation fails only that step's requests (clear message), the engine keeps
 * serving correct tokens, and no KV block or device allocation leaks; out of memory while loading
 * the model or creating the KV cache is a clear exception that leaks nothing. (The sticky case,
 * which poisons the context for the rest of the process, is EngineStickyErrorTest.)
 */
@Tag("cuda")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EngineFaultTest {
    static final int VOCAB = 300;

    @TempDir static Path dir;
    static Path modelDir;

    private CudaDevice cuda;

    @BeforeAll
    static void writeModel() throws Exception {
        LlamaConfig config = TinyModels.config(VOCAB, 1024);
        modelDir = TinyModels.write(Files.createDirectories(dir.resolve("tiny")), config, Seeds.of("EngineFaultTest.model"));
    }

    @BeforeEach
    void open() {
        CudaShim.install();
        cuda = (CudaDevice) Devices.get("cuda");
    }

    @AfterEach
    void clearFaults() {
        if (CudaShim.active()) CudaShim.configure("clear_faults", "1");
    }

    /** Device allocations once every cached block went back to the driver. */
    private long liveAfterEmptyingTheCache() {
        cuda.allocator().emptyCache();
        return CudaShim.liveAllocations();
    }

    static int[] randomTokens(Random r, int n) { return r.ints(n, 0, VOCAB).toArray(); }

    /** Waits until the engine's published metrics satisfy {@code test} (they are published between steps). */
    static Metrics awaitMetrics(Engine engine, Predicate<Metrics> test) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Metrics m = engine.metrics();
        while (!test.test(m) && System.nanoTime() < deadline) {
            Thread.sleep(5);
            m = engine.metrics();
        }
        return m;
    }

    @Test
    void aFailedLaunchFailsOnlyItsStepAndTheEngineKeepsServing() throws Exception {
        if (!CudaShim.active()) return; // fault injection needs the shim
        Random random = Seeds.random("EngineFaultTest.failLaunch");
        int[] pa = randomTokens(random, 8), pb = randomTokens(random, 8), pc = randomTokens(random, 12), pd = randomTokens(random, 20);
        long before = liveAfterEmptyingTheCache();
        Result a, b, c, d;
        Metrics metrics;
        Engine engine = new Engine(LlamaModel.load(modelDir, cuda), Engine.Config.of(64).withBatch(64, 2));
        try {
            // a and b run together (two sequences at a time), c waits for a place
            RequestHandle ha = engine.submit(Request.greedy(pa, 200));
            RequestHandle hb = engine.submit(Request.greedy(pb, 200));
            RequestHandle hc = engine.submit(Request.greedy(pc, 10));
            int seen = 0;
            for (int ignored : ha) if (++seen == 3) break;
            // mid-generation (only the engine thread launches): its next launch does not fit
            CudaShim.configure("fail_launch", "1");
            a = ha.result().get(1, TimeUnit.MINUTES);
            b = hb.result().get(1, TimeUnit.MINUTES);
            c = hc.result().get(1, TimeUnit.MINUTES);
            // a request after the fault is served as usual
            d = engine.submit(Request.greedy(pd, 12)).result().get(1, TimeUnit.MINUTES);
            metrics = awaitMetrics(engine, m -> m.running() == 0 && m.queued() == 0 && m.usedBlocks() == 0);
            assertNull(engine.stoppedBy(), "a recoverable error does not stop the engine");
        } finally {
            engine.close();
        }
        for (Result failed : List.of(a, b)) {
            assertEquals(FinishReason.ERROR, failed.reason(), failed.toString());
            CudaException e = assertInstanceOf(CudaException.class, failed.error());
            assertEquals(CuResult.LAUNCH_OUT_OF_RESOURCES, e.code());
            assertFalse(e.isSticky());
            assertTrue(e.getMessage().startsWith("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"), e.getMessage());
            assertTrue(failed.tokens().length >= 1 && failed.tokens().length < 200, failed.toString());
        }
        // the fault came after a's third token; b may be a step behind a (it can be admitted one step later)
        assertTrue(a.tokens().length >= 3, a.toString());
        assertEquals(FinishReason.LENGTH, c.reason(), c.toString());
        assertEquals(FinishReason.LENGTH, d.reason(), d.toString());
        assertEquals(0, metrics.usedBlocks(), "no KV block leaked: " + metrics);
        assertEquals(4, metrics.finished(), metrics.toString());
        assertEquals(before, liveAfterEmptyingTheCache(), () -> "every device allocation of the engine went back after close(); allocator: "
                + cuda.allocator().stats());

        try (LlamaModel reference = LlamaModel.load(modelDir, cuda)) {
            assertArrayEquals(TinyModels.greedy(reference, pc, 10).tokens(), c.tokens(), "the waiting request, served after the fault");
            assertArrayEquals(TinyModels.greedy(reference, pd, 12).tokens(), d.tokens(), "a request submitted after the fault");
            int[] ra = TinyModels.greedy(reference, pa, a.tokens().length).tokens();
            assertArrayEquals(ra, a.tokens(), "the tokens a failed request got before the fault are right");
        }
        assertEquals(before, liveAfterEmptyingTheCache());
    }

    @Test
    void outOfMemoryWhileLoadingTheModelIsClearAndLeaksNothing() {
        if (!CudaShim.active()) return;
        long before = liveAfterEmptyingTheCache();
        long allocationsBefore = cuda.allocator().stats().deviceAllocations();
        LlamaModel.load(modelDir, cuda).close();
        int allocations = (int) (cuda.allocator().stats().deviceAllocations() - allocationsBefore);
        assertTrue(allocations > 3, "a model load allocates its weights: " + allocations);
        assertEquals(before, liveAfterEmptyingTheCache());
        for (int n : new int[] {1, allocations / 2, allocations}) {
            CudaShim.configure("fail_alloc", Integer.toString(n));
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> LlamaModel.load(modelDir, cuda),
                    "allocation " + n + " of " + allocations + " fails");
            assertTrue(e.getMessage().contains(" is out of memory: tried to allocate "), e.getMessage());
            CudaShim.configure("clear_faults", "1");
            assertEquals(before, liveAfterEmptyingTheCache(), "allocation " + n + " of " + allocations + " failed: the weights loaded before it went back");
        }
    }

    @Test
    void outOfMemoryWhileCreatingTheKvCacheIsClearAndLeaksNothing() throws Exception {
        if (!CudaShim.active()) return;
        Random random = Seeds.random("EngineFaultTest.cacheOom");
        int[] prompt = randomTokens(random, 10);
        long before = liveAfterEmptyingTheCache();
        LlamaModel model = LlamaModel.load(modelDir, cuda);
        int[] expected = TinyModels.greedy(model, prompt, 6).tokens();
        cuda.allocator().emptyCache(); // the reference's cache and activations: a later failure must not be saved by giving them back
        try {
            int layers = model.config().numLayers();
            for (int n = 1; n <= 2 * layers; n += 2 * layers - 1) { // the first and the last K/V tensor
                CudaShim.configure("fail_alloc", Integer.toString(n));
                DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> new Engine(model, Engine.Config.of(64)),
                        "KV cache allocation " + n + " fails");
                assertTrue(e.getMessage().contains(" is out of memory: tried to allocate "), e.getMessage());
                CudaShim.configure("clear_faults", "1");
            }
        } catch (Throwable t) {
            model.close();
            throw t;
        }
        // the caller still owns the model, which still works
        try (Engine engine = new Engine(model, Engine.Config.of(64))) {
            Result r = engine.submit(Request.greedy(prompt, 6)).result().get(1, TimeUnit.MINUTES);
            assertEquals(FinishReason.LENGTH, r.reason(), r.toString());
            assertArrayEquals(expected, r.tokens(), Arrays.toString(r.tokens()));
        }
        assertEquals(before, liveAfterEmptyingTheCache(), "nothing of the failed caches, the engine or the model is left");
    }

    private static <T> T assertInstanceOf(Class<T> type, Object o) {
        assertTrue(type.isInstance(o), "expected a " + type.getSimpleName() + ", got " + o);
        return type.cast(o);
    }
}
