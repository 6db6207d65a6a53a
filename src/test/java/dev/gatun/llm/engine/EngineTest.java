package dev.gatun.llm.engine;

import dev.gatun.device.Device;
import dev.gatun.kv.KvBlockManager;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.ops.Sampling;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The engine on a tiny random Llama (vocab 300) on every test device: concurrent greedy requests
 * against the one-request-at-a-time reference, prefix caching, KV invariants, bad requests,
 * cancellation, deadlines, back-pressure, streaming views and shutdown.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EngineTest {
    static final int VOCAB = 300, BLOCK = 16;
    /** Below this top-two logit margin a greedy step is a near tie and is not compared. */
    static final double NEAR_TIE = 1e-4;

    @TempDir static Path dir;
    static Path modelDir;
    static LlamaConfig config;

    @BeforeAll
    static void writeModel() throws Exception {
        config = TinyModels.config(VOCAB, 1024);
        modelDir = TinyModels.write(Files.createDirectories(dir.resolve("tiny")), config, Seeds.of("EngineTest.model"));
    }

    static List<Device> devices() { return TestDevices.all(); }

    static Engine engine(Device device, Engine.Config c) { return new Engine(LlamaModel.load(modelDir, device), c); }

    static int[] randomTokens(Random r, int n) { return r.ints(n, 0, VOCAB).toArray(); }

    static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** Every block free or cached, bookkeeping consistent. */
    static KvBlockManager.Stats assertAllFree(Engine engine) {
        KvBlockManager.Stats st = engine.inspectKv(kv -> {
            kv.checkInvariants();
            return kv.stats();
        });
        assertEquals(0, st.usedBlocks(), "blocks still in use: " + st);
        assertEquals(st.totalBlocks(), st.freeBlocks() + st.cachedBlocks(), st.toString());
        return st;
    }

    /**
     * Compares generated tokens with the reference's; a difference is accepted only at a near
     * tie, after which the rest of the request is not compared. Returns the steps skipped.
     */
    static int compare(String what, int[] actual, TinyModels.Reference ref) {
        assertTrue(actual.length <= ref.tokens().length, what + ": more tokens than asked for");
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] == ref.tokens()[i]) continue;
            if (ref.margins()[i] < NEAR_TIE) return actual.length - i;
            fail(what + ": token " + i + " is " + actual[i] + ", the reference's " + ref.tokens()[i] + " (margin " + ref.margins()[i] + ")\nengine    "
                    + Arrays.toString(actual) + "\nreference " + Arrays.toString(ref.tokens()) + Seeds.replay());
        }
        return 0;
    }

    // ---- (1) concurrent, preempted, chunked, prefix-shared, cancelled = one at a time ----

    @ParameterizedTest(name = "concurrent greedy requests = one at a time on {0}")
    @MethodSource("devices")
    void concurrentGreedyEqualsOneAtATime(Device device) throws Exception {
        Random random = Seeds.random("concurrentGreedy" + device);
        int n = 12;
        int[] shared = randomTokens(random, 40); // 2.5 blocks shared by four requests
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // prompts of 1..70 tokens (chunked: 32 tokens per step), generations of 32..47 tokens;
            // requests 4 and 7 (cancelled by their readers) 1..24 and 96, so that a reader that
            // starts late still finds them running
            int[] prompt = i % 3 == 0 ? concat(shared, randomTokens(random, 1 + random.nextInt(8))) : randomTokens(random, 1 + random.nextInt(i % 3 == 1 ? 24 : 70));
            int length = (TestDevices.small() ? 24 : 32) + random.nextInt(16);
            requests.add(Request.greedy(prompt, i == 4 || i == 7 ? 96 : length));
        }
        // a tiny pool: 8 blocks of 16; a request alone needs at most 8, and any three admitted together outgrow it
        Engine.Config c = Engine.Config.of(8).withBatch(32, 8);
        ConcurrentHashMap<Integer, RequestHandle> handles = new ConcurrentHashMap<>();
        ConcurrentHashMap<Integer, int[]> streamed = new ConcurrentHashMap<>();
        ConcurrentHashMap<Integer, Boolean> cancelled = new ConcurrentHashMap<>();
        CopyOnWriteArrayList<Throwable> errors = new CopyOnWriteArrayList<>();
        Metrics metrics;
        long memoryBefore = device.allocator().stats().inUseBytes();
        try (Engine engine = engine(device, c)) {
            // hold the engine until half the requests arrived, so that they compete for blocks however fast the device is
            CountDownLatch half = new CountDownLatch(n / 2);
            engine.execute(() -> {
                try {
                    half.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            List<Thread> submitters = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int first = t;
                long seed = random.nextLong();
                submitters.add(Thread.ofPlatform().start(() -> {
                    Random r = new Random(seed);
                    try {
                        for (int i = first; i < n; i += 4) {
                            Thread.sleep(r.nextInt(15));
                            int index = i;
                            RequestHandle h = engine.submit(requests.get(i));
                            handles.put(i, h);
                            half.countDown();
                            // a virtual-thread consumer per request, reading the blocking iterator
                            Thread.ofVirtual().start(() -> {
                                List<Integer> got = new ArrayList<>();
                                for (int token : h) {
                                    got.add(token);
                                    if ((index == 4 || index == 7) && got.size() == 3) cancelled.put(index, cancelBetweenSteps(engine, h));
                                }
                                streamed.put(index, got.stream().mapToInt(Integer::intValue).toArray());
                            });
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }));
            }
            for (Thread t : submitters) t.join();
            assertTrue(errors.isEmpty(), () -> "submitting failed: " + errors);
            for (RequestHandle h : handles.values()) h.result().get(2, TimeUnit.MINUTES);
            assertAllFree(engine); // runs on the engine thread between steps: the metrics below are then current
            metrics = engine.metrics();
        }
        assertEquals(memoryBefore, device.allocator().stats().inUseBytes(),
                "after close, the engine has given back every byte it (and its model and cache) took: no step leaked a tensor");
        int skipped = 0;
        try (LlamaModel reference = LlamaModel.load(modelDir, device)) {
            for (int i = 0; i < n; i++) {
                Request r = requests.get(i);
                Result result = handles.get(i).await();
                int[] tokens = result.tokens();
                if (cancelled.getOrDefault(i, false)) {
                    assertEquals(FinishReason.CANCELLED, result.reason(), "request " + i);
                    assertTrue(tokens.length >= 3 && tokens.length < r.maxNewTokens(), "cancelled request " + i + " made " + tokens.length + " tokens");
                } else {
                    assertEquals(FinishReason.LENGTH, result.reason(), "request " + i + ": " + result);
                    assertEquals(r.maxNewTokens(), tokens.length);
                }
                // the stream saw exactly the result's tokens
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!streamed.containsKey(i) && System.nanoTime() < deadline) Thread.sleep(1);
                assertArrayEquals(tokens, streamed.get(i), "streamed tokens of request " + i);
                skipped += compare("request " + i + " on " + device, tokens, TinyModels.greedy(reference, r.prompt(), tokens.length));
            }
        }
        System.out.println("concurrentGreedyEqualsOneAtATime " + device + ": " + metrics + "; near-tie steps skipped: " + skipped);
        assertTrue(cancelled.containsValue(true), "requests 4 and 7 both finished before their readers cancelled them: " + cancelled);
        assertTrue(metrics.preemptions() > 0, "the tiny pool should have forced preemption: " + metrics);
        assertTrue(metrics.cachedPromptTokens() > 0, "requests sharing a prefix should have hit the prefix cache: " + metrics);
        assertEquals(n, metrics.finished());
        assertEquals(0, metrics.running());
        assertEquals(0, metrics.queued());
        assertTrue(metrics.ttft().count() == n && metrics.interToken().count() > 0, metrics.toString());
    }

    /**
     * Cancels {@code h} while the engine waits between two steps, so that whether it was still
     * running when cancelled (the return value) is settled: a cancel racing the request's last
     * step could otherwise find it running and still see it finish by length.
     */
    private static boolean cancelBetweenSteps(Engine engine, RequestHandle h) {
        CountDownLatch paused = new CountDownLatch(1), resume = new CountDownLatch(1);
        engine.execute(() -> {
            paused.countDown();
            try {
                resume.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            if (!paused.await(30, TimeUnit.SECONDS)) throw new AssertionError("the engine did not take the pause task");
            return !h.isDone() && h.cancel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } finally {
            resume.countDown();
        }
    }

    // ---- (2) prefix cache: only the new blocks are computed ----

    @ParameterizedTest(name = "prefix cache computes only the new tokens on {0}")
    @MethodSource("devices")
    void prefixCacheComputesOnlyNewTokens(Device device) {
        Random random = Seeds.random("prefixCache" + device);
        int[] a = randomTokens(random, 40);
        int[] b = concat(Arrays.copyOf(a, 2 * BLOCK), randomTokens(random, 9));
        try (Engine engine = engine(device, Engine.Config.of(32)); LlamaModel reference = LlamaModel.load(modelDir, device)) {
            RequestHandle firstHandle = engine.submit(Request.greedy(a, 5));
            // registered before the result exists, so it runs on the engine thread the moment the result completes
            CompletableFuture<Metrics> atCompletion = firstHandle.result().thenApply(r -> engine.metrics());
            Result first = firstHandle.await();
            assertEquals(0, first.cachedPromptTokens());
            Metrics seen = atCompletion.join();
            assertEquals(List.of(0, 0, 1L), List.of(seen.running(), seen.usedBlocks(), seen.finished()),
                    "running, used blocks, finished as seen when the result completed: " + seen);
            Metrics before = engine.metrics();
            KvBlockManager.Stats statsBefore = engine.inspectKv(KvBlockManager::stats);
            assertEquals(40, before.prefillTokens());
            Result second = engine.submit(Request.greedy(b, 5)).await();
            Metrics after = engine.metrics();
            KvBlockManager.Stats statsAfter = engine.inspectKv(KvBlockManager::stats);
            assertEquals(2 * BLOCK, second.cachedPromptTokens(), second.toString());
            assertEquals(9, after.prefillTokens() - before.prefillTokens(), "prompt tokens computed for the second request");
            assertEquals(2, statsAfter.prefixHitBlocks() - statsBefore.prefixHitBlocks());
            assertTrue(after.prefixHitRate() > 0, after.toString());
            int skipped = compare("second request", second.tokens(), TinyModels.greedy(reference, b, 5))
                    + compare("first request", first.tokens(), TinyModels.greedy(reference, a, 5));
            System.out.println("prefixCache " + device + ": near-tie steps skipped: " + skipped);
            assertAllFree(engine);
        }
    }

    // ---- (4) bad requests: clear errors, the engine keeps serving ----

    @Test
    void badRequestsAreClearErrorsAndTheEngineKeepsServing() {
        Device device = TestDevices.all().getFirst();
        Random random = Seeds.random("badRequests");
        try (Engine engine = engine(device, Engine.Config.of(8))) { // 8 blocks of 16 = 128 tokens of KV
            RequestHandle good = engine.submit(Request.greedy(randomTokens(random, 10), 20));
            assertMessage(() -> Request.greedy(new int[0], 5), "empty");
            assertMessage(() -> engine.submit(Request.greedy(new int[] {1, 300, 2}, 5)), "id 300", "vocabulary [0, 300)");
            assertMessage(() -> engine.submit(Request.greedy(new int[] {-1}, 5)), "id -1", "vocabulary");
            assertMessage(() -> engine.submit(Request.greedy(new int[] {1}, 5).withStopTokens(1000)), "stop token id 1000");
            assertMessage(() -> Request.greedy(new int[] {1}, 0), "maxNewTokens");
            assertMessage(() -> engine.submit(Request.greedy(randomTokens(random, 100), 1000)), "exceeds the model's context of 1024");
            assertMessage(() -> engine.submit(Request.greedy(randomTokens(random, 100), 100)), "can never fit", "8");
            assertMessage(() -> new Sampling.Params(-0.5f, 0, 1, 0), "temperature");
            assertMessage(() -> new Sampling.Params(Float.NaN, 0, 1, 0), "temperature");
            assertMessage(() -> new Sampling.Params(1, -5, 1, 0), "topK");
            assertMessage(() -> new Sampling.Params(1, 0, 1.5f, 0), "topP");
            assertMessage(() -> Request.greedy(new int[] {1}, 5).withTimeout(Duration.ZERO), "timeout");
            // an absurd top-k is "off", not an error: it samples from the whole vocabulary
            RequestHandle hugeTopK = engine.submit(Request.greedy(randomTokens(random, 5), 4).withParams(new Sampling.Params(1, Integer.MAX_VALUE, 1, 3)));
            // exactly the whole cache fits: 128 tokens of KV
            RequestHandle full = engine.submit(Request.greedy(randomTokens(random, 100), 29));
            assertEquals(FinishReason.LENGTH, good.await().reason());
            assertEquals(20, good.await().tokens().length);
            assertEquals(FinishReason.LENGTH, hugeTopK.await().reason());
            assertEquals(FinishReason.LENGTH, full.await().reason());
            assertEquals(FinishReason.LENGTH, engine.submit(Request.greedy(randomTokens(random, 3), 3)).await().reason());
            assertAllFree(engine);
        }
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' should mention '" + p + "'");
    }

    // ---- (5) close: everything pending ends with SHUTDOWN ----

    @Test
    void closeFinishesPendingRequestsWithShutdown() throws Exception {
        Device device = TestDevices.all().getFirst();
        Random random = Seeds.random("close");
        Engine engine = engine(device, Engine.Config.of(64).withBatch(64, 2));
        List<RequestHandle> handles = new ArrayList<>();
        for (int i = 0; i < 5; i++) handles.add(engine.submit(Request.greedy(randomTokens(random, 8), 500)));
        Iterable<Integer> first = handles.getFirst();
        int seen = 0;
        for (int ignored : first) if (++seen == 3) break;
        engine.close();
        for (RequestHandle h : handles) {
            Result r = h.result().get(10, TimeUnit.SECONDS);
            assertEquals(FinishReason.SHUTDOWN, r.reason(), r.toString());
            assertTrue(r.tokens().length < 500);
        }
        assertTrue(handles.getFirst().await().tokens().length >= 3);
        assertEquals(0, handles.getLast().await().tokens().length, "only 2 sequences run at a time: the last never started");
        assertThrows(IllegalStateException.class, () -> engine.submit(Request.greedy(new int[] {1}, 1)));
        engine.close(); // idempotent
    }

    // ---- more: cancellation before admission, deadlines, stop tokens, back-pressure, Flow, sampling ----

    @Test
    void deadlinesStopTokensAndCancellationBeforeAdmission() {
        Device device = TestDevices.all().getFirst();
        Random random = Seeds.random("deadlines");
        try (Engine engine = engine(device, Engine.Config.of(64).withBatch(64, 1)); LlamaModel reference = LlamaModel.load(modelDir, device)) {
            RequestHandle blocker = engine.submit(Request.greedy(randomTokens(random, 4), 200));
            RequestHandle queued = engine.submit(Request.greedy(randomTokens(random, 4), 5)); // waits: one sequence at a time
            assertTrue(queued.cancel());
            assertEquals(FinishReason.CANCELLED, queued.await().reason());
            assertEquals(0, queued.await().tokens().length);
            blocker.cancel();
            assertEquals(FinishReason.CANCELLED, blocker.await().reason());
            assertFalse(blocker.cancel(), "already finished");

            Result late = engine.submit(Request.greedy(randomTokens(random, 4), 900).withTimeout(Duration.ofMillis(30))).await();
            assertEquals(FinishReason.DEADLINE, late.reason(), late.toString());
            assertTrue(late.tokens().length < 900);

            int[] prompt = randomTokens(random, 6);
            TinyModels.Reference ref = TinyModels.greedy(reference, prompt, 8);
            int stop = ref.tokens()[3];
            int at = 0;
            while (ref.tokens()[at] != stop) at++;
            Result stopped = engine.submit(Request.greedy(prompt, 8).withStopTokens(stop)).await();
            assertEquals(FinishReason.STOP, stopped.reason());
            assertArrayEquals(Arrays.copyOf(ref.tokens(), at + 1), stopped.tokens(), "tokens up to and including the stop token");
            assertAllFree(engine);
        }
    }

    @Test
    void backPressureAndThePublisher() throws Exception {
        Device device = TestDevices.all().getFirst();
        Random random = Seeds.random("backPressure");
        try (Engine engine = engine(device, Engine.Config.of(64).withMaxPending(2))) {
            RequestHandle a = engine.trySubmit(Request.greedy(randomTokens(random, 5), 300));
            RequestHandle b = engine.trySubmit(Request.greedy(randomTokens(random, 5), 12));
            assertThrows(RejectedExecutionException.class, () -> engine.trySubmit(Request.greedy(new int[] {1}, 1)));
            // a blocking submit waits until one finishes (b, after 12 tokens)
            RequestHandle c = engine.submit(Request.greedy(randomTokens(random, 5), 7));
            assertEquals(12, b.tokensSoFar().length, "submit returned before a request finished");
            assertEquals(FinishReason.LENGTH, b.result().get(10, TimeUnit.SECONDS).reason());
            a.cancel();

            // the publisher honours demand: one token at a time
            List<Integer> got = new CopyOnWriteArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<Throwable> error = new AtomicReference<>();
            c.publisher().subscribe(new Flow.Subscriber<>() {
                Flow.Subscription s;

                @Override public void onSubscribe(Flow.Subscription s) {
                    this.s = s;
                    s.request(1);
                }

                @Override public void onNext(Integer item) {
                    got.add(item);
                    s.request(1);
                }

                @Override public void onError(Throwable t) {
                    error.set(t);
                    done.countDown();
                }

                @Override public void onComplete() { done.countDown(); }
            });
            assertTrue(done.await(30, TimeUnit.SECONDS));
            assertEquals(null, error.get());
            assertArrayEquals(c.await().tokens(), got.stream().mapToInt(Integer::intValue).toArray());
            assertEquals(7, got.size());
        }
    }

    @Test
    void sampledOutputDoesNotDependOnTheBatchOrPreemption() {
        // temperature sampling is keyed by (seed, token index): the same tokens alone and in a crowded, preempting engine
        Device device = TestDevices.all().getFirst();
        Random random = Seeds.random("sampling");
        int[] prompt = randomTokens(random, 30);
        Request sampled = new Request(prompt, new Sampling.Params(0.9f, 50, 0.95f, 1234), 24, null, null);
        int[] alone;
        try (Engine engine = engine(device, Engine.Config.of(64))) {
            alone = engine.submit(sampled).await().tokens();
        }
        try (Engine engine = engine(device, Engine.Config.of(8).withBatch(24, 6))) {
            List<RequestHandle> others = new ArrayList<>();
            for (int i = 0; i < 6; i++) others.add(engine.submit(Request.greedy(randomTokens(random, 10 + 5 * i), 20)));
            Result crowded = engine.submit(sampled).await();
            for (RequestHandle h : others) assertEquals(FinishReason.LENGTH, h.await().reason());
            assertArrayEquals(alone, crowded.tokens(), "preempted " + crowded.preemptions() + " times; " + engine.metrics());
            assertTrue(engine.metrics().preemptions() > 0, engine.metrics().toString());
            assertAllFree(engine);
        }
    }
}
