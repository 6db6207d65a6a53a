package dev.gatun.llm.engine;

import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.kv.KvBlockManager;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.ops.Sampling;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The LLM serving engine: one model, one paged KV cache ({@link KvBlockManager} bookkeeping and
 * the {@link LlamaModel.KvCache} it indexes), and one platform thread that owns both and runs
 * steps. Any number of threads {@link #submit} requests and read their tokens through the
 * returned {@link RequestHandle}. Each step is one forward pass over a batch built by the
 * scheduler (continuous batching, chunked prefill, prefix caching, preemption by recompute; see
 * {@link Scheduler}), followed by sampling ({@link Sampling#sample}, keyed by each request's seed
 * and its number of generated tokens, so a request's output does not depend on its neighbours or
 * on preemption).
 *
 * <p>Back-pressure: at most {@link Config#maxPending} requests are unfinished (queued or running)
 * at a time. {@link #submit} blocks until one finishes; {@link #trySubmit} rejects at once with
 * {@link RejectedExecutionException}. Bad requests are rejected by both with an
 * {@link IllegalArgumentException} before they reach the engine thread.
 *
 * <p>Device faults. A step whose forward pass or sampling fails with a recoverable error (a
 * launch that does not fit, out of device memory, ...) finishes the requests of that step with
 * {@link FinishReason#ERROR} carrying the exception, gives their KV blocks back and goes on serving
 * the others. When the device itself became unusable (a sticky CUDA error, such as an illegal
 * address: the context is poisoned for the rest of the process) the engine <em>stops</em>: every
 * unfinished request finishes with {@link FinishReason#ERROR} and an {@link IllegalStateException}
 * saying "engine stopped: &lt;device&gt; is unusable since &lt;the first device error&gt;", and
 * {@link #submit}/{@link #trySubmit} throw that exception's message from then on
 * ({@link #stoppedBy()} returns it). {@link #close()} still works after a stop.
 *
 * <p>Speculative decoding ({@link Config#speculation()}, off by default): each step, running
 * sequences get up to k proposed tokens, from prompt lookup or from a draft model given to the
 * constructor, and the target verifies them in the same pass (see {@link Speculator}). Greedy
 * output is that of plain decoding; sampled output follows the same distribution.
 *
 * <p>{@link #close()} finishes every unfinished request with {@link FinishReason#SHUTDOWN}, stops
 * the engine thread, and closes the KV cache and the model (the engine owns them), and the draft
 * model and its cache.
 */
public final class Engine implements AutoCloseable {
    /**
     * @param numBlocks      KV cache blocks (all layers)
     * @param blockSize      tokens per block (a power of two)
     * @param maxBatchTokens tokens per step (decode tokens + prefill chunks)
     * @param maxSequences   running sequences at most
     * @param maxPending     unfinished requests at most (back-pressure)
     * @param prefixCaching  reuse cached full blocks of identical prefixes
     * @param speculation    speculative decoding, or null for none
     */
    public record Config(int numBlocks, int blockSize, int maxBatchTokens, int maxSequences, int maxPending, boolean prefixCaching,
                         Speculation speculation) {
        public Config {
            if (numBlocks < 1) throw new IllegalArgumentException("engine: numBlocks must be >= 1, got " + numBlocks);
            if (blockSize < 1 || Integer.bitCount(blockSize) != 1) throw new IllegalArgumentException("engine: blockSize must be a power of two, got " + blockSize);
            if (maxSequences < 1) throw new IllegalArgumentException("engine: maxSequences must be >= 1, got " + maxSequences);
            if (maxBatchTokens < maxSequences)
                throw new IllegalArgumentException("engine: maxBatchTokens (" + maxBatchTokens + ") must be >= maxSequences (" + maxSequences + ")");
            if (maxPending < 1) throw new IllegalArgumentException("engine: maxPending must be >= 1, got " + maxPending);
        }

        /** 16-token blocks, 256 tokens and 64 sequences per step, 1024 pending requests, prefix caching on, no speculation. */
        public static Config of(int numBlocks) { return new Config(numBlocks, 16, 256, 64, 1024, true, null); }

        public Config withBlockSize(int b) { return new Config(numBlocks, b, maxBatchTokens, maxSequences, maxPending, prefixCaching, speculation); }

        public Config withBatch(int tokens, int sequences) { return new Config(numBlocks, blockSize, tokens, sequences, maxPending, prefixCaching, speculation); }

        public Config withMaxPending(int n) { return new Config(numBlocks, blockSize, maxBatchTokens, maxSequences, n, prefixCaching, speculation); }

        public Config withPrefixCaching(boolean on) { return new Config(numBlocks, blockSize, maxBatchTokens, maxSequences, maxPending, on, speculation); }

        /** Speculative decoding with {@code s}, or none for null. */
        public Config withSpeculation(Speculation s) { return new Config(numBlocks, blockSize, maxBatchTokens, maxSequences, maxPending, prefixCaching, s); }

        /** Speculative decoding of {@code k} tokens per step, prompt lookup of 3- down to 1-grams unless the engine has a draft model. */
        public Config withSpeculation(int k) { return withSpeculation(new Speculation(k, 1, 3)); }
    }

    /**
     * Speculative decoding: up to {@code tokens} (k) proposed tokens per sequence and step. With a
     * draft model (the three-argument constructor) the draft proposes them; otherwise prompt
     * lookup does, matching the last {@code ngramMax} down to {@code ngramMin} tokens earlier in
     * the sequence.
     */
    public record Speculation(int tokens, int ngramMin, int ngramMax) {
        public Speculation {
            if (tokens < 1) throw new IllegalArgumentException("speculation: the number of speculative tokens k must be >= 1, got " + tokens);
            if (ngramMin < 1 || ngramMax < ngramMin)
                throw new IllegalArgumentException("speculation: need 1 <= ngramMin <= ngramMax, got " + ngramMin + " and " + ngramMax);
        }
    }

    private static final Object WAKE = new Object();

    private final LlamaModel model;
    /** The draft model, or null. */
    private final LlamaModel draft;
    private final LlamaConfig modelConfig;
    private final Config config;
    private final LlamaModel.KvCache cache;
    private final Scheduler scheduler;
    /** Null when speculation is off. */
    private final Speculator speculator;
    private final Thread thread;
    /** Sequences, tasks and WAKE for the engine thread. */
    private final LinkedBlockingQueue<Object> incoming = new LinkedBlockingQueue<>();
    private final Semaphore pending;
    private final ReentrantLock submitLock = new ReentrantLock();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicInteger notDrained = new AtomicInteger();
    private final LatencyStats ttft = new LatencyStats(), itl = new LatencyStats();
    private volatile boolean closing;
    private volatile Metrics state;
    private volatile long submitted, finished, steps, generatedTokens;
    private volatile Throwable fatal;
    /** Set (once, on the engine thread) when the device became unusable; the engine then serves nothing. */
    private volatile IllegalStateException stopped;

    /**
     * Starts an engine over {@code model} with a new KV cache of {@code config.numBlocks()} blocks
     * (speculation, if configured, by prompt lookup). The engine owns the model from then on; if
     * this constructor throws, the caller still does.
     */
    public Engine(LlamaModel model, Config config) {
        this(model, null, config);
    }

    /**
     * Starts an engine over {@code model} whose speculative tokens come from {@code draft}, a
     * smaller model over the same vocabulary (null: prompt lookup) with a KV cache of its own of
     * as many blocks. The engine owns both models from then on; if this constructor throws, the
     * caller still does.
     */
    public Engine(LlamaModel model, LlamaModel draft, Config config) {
        this.model = model;
        this.draft = draft;
        this.modelConfig = model.config();
        this.config = config;
        Speculation spec = config.speculation();
        if (draft != null) {
            if (spec == null) throw new IllegalArgumentException("engine: a draft model needs speculation on (Config.withSpeculation)");
            LlamaConfig d = draft.config();
            if (d.vocabSize() != modelConfig.vocabSize())
                throw new IllegalArgumentException("engine: the draft model's vocabulary has " + d.vocabSize() + " tokens, the target's "
                        + modelConfig.vocabSize() + "; a draft must share the target's vocabulary");
            if (d.maxPositionEmbeddings() < modelConfig.maxPositionEmbeddings())
                throw new IllegalArgumentException("engine: the draft model's context (" + d.maxPositionEmbeddings() + " positions) is shorter than the target's ("
                        + modelConfig.maxPositionEmbeddings() + ")");
        }
        this.cache = model.newCache(config.numBlocks(), config.blockSize());
        Speculator speculator = null;
        try {
            this.scheduler = new Scheduler(new KvBlockManager(config.numBlocks(), config.blockSize(), config.prefixCaching()),
                    config.maxBatchTokens(), config.maxSequences());
            this.pending = new Semaphore(config.maxPending());
            if (spec != null) {
                Proposer proposer = draft == null ? new NgramProposer(spec.ngramMin(), spec.ngramMax())
                        : new DraftProposer(draft, config.numBlocks(), config.blockSize(), config.prefixCaching(), config.maxBatchTokens());
                speculator = new Speculator(proposer, spec.tokens(), config.maxBatchTokens(), modelConfig.vocabSize(), model.device());
            }
            this.speculator = speculator;
            publishState();
            this.thread = Thread.ofPlatform().name("gatun-engine").daemon(true).start(this::loop);
        } catch (RuntimeException | Error e) {
            // the caller keeps the models, not the caches made for them
            if (speculator != null) speculator.close();
            cache.close();
            throw e;
        }
    }

    public Config config() { return config; }

    public LlamaConfig modelConfig() { return modelConfig; }

    // ---- submission (any thread) ----

    /** Validates and enqueues {@code request}, blocking while {@link Config#maxPending} requests are unfinished. */
    public RequestHandle submit(Request request) {
        validate(request);
        requireServing();
        try {
            while (!pending.tryAcquire(50, TimeUnit.MILLISECONDS)) {
                requireServing();
                if (closing) throw new IllegalStateException("engine is closed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for room in the engine's queue", e);
        }
        return enqueue(request);
    }

    /** Like {@link #submit} but throws {@link RejectedExecutionException} at once when the engine is full. */
    public RequestHandle trySubmit(Request request) {
        validate(request);
        requireServing();
        if (!pending.tryAcquire())
            throw new RejectedExecutionException("engine is full: " + config.maxPending() + " requests are unfinished");
        return enqueue(request);
    }

    private RequestHandle enqueue(Request request) {
        submitLock.lock();
        try {
            if (closing || stopped != null) {
                pending.release();
                requireServing();
                throw new IllegalStateException("engine is closed");
            }
            long id = ids.getAndIncrement();
            RequestHandle handle = new RequestHandle(id, request, this::wake);
            notDrained.incrementAndGet();
            submitted++;
            incoming.add(new Sequence(id, handle, request, System.nanoTime()));
            return handle;
        } finally {
            submitLock.unlock();
        }
    }

    /** Throws when the engine stopped because its device became unusable. */
    private void requireServing() {
        IllegalStateException s = stopped;
        if (s != null) throw new IllegalStateException(s.getMessage(), s.getCause());
    }

    /** Rejects what can never run, with a message saying why. */
    private void validate(Request r) {
        int[] prompt = r.promptArray();
        int vocab = modelConfig.vocabSize();
        for (int i = 0; i < prompt.length; i++)
            if (prompt[i] < 0 || prompt[i] >= vocab)
                throw new IllegalArgumentException("request: prompt token " + i + " has id " + prompt[i] + ", outside the vocabulary [0, " + vocab + ")");
        for (int s : r.stopTokens())
            if (s < 0 || s >= vocab) throw new IllegalArgumentException("request: stop token id " + s + " is outside the vocabulary [0, " + vocab + ")");
        long total = (long) prompt.length + r.maxNewTokens();
        if (total > modelConfig.maxPositionEmbeddings())
            throw new IllegalArgumentException("request: prompt (" + prompt.length + " tokens) + maxNewTokens (" + r.maxNewTokens() + ") = " + total
                    + " exceeds the model's context of " + modelConfig.maxPositionEmbeddings() + " tokens (max_position_embeddings)");
        // the last sampled token is never fed back, so the KV cache holds at most total - 1 tokens
        long blocks = (total - 1 + config.blockSize() - 1) / config.blockSize();
        if (blocks > config.numBlocks())
            throw new IllegalArgumentException("request: can never fit: " + (total - 1) + " tokens of KV need " + blocks + " blocks of "
                    + config.blockSize() + ", the whole cache has " + config.numBlocks());
    }

    private void wake() { incoming.offer(WAKE); }

    // ---- observation ----

    /**
     * The engine's state as of its last step, and its counters. A request whose result has
     * completed is already counted finished and no longer running, its KV blocks given back.
     */
    public Metrics metrics() {
        Metrics s = state;
        return new Metrics(s.queued() + notDrained.get(), s.running(), submitted, finished, s.preemptions(), steps, s.usedBlocks(), s.cachedBlocks(),
                s.totalBlocks(), s.prefixHitRate(), s.prefillTokens(), s.cachedPromptTokens(), generatedTokens,
                speculator == null ? 0 : speculator.proposed(), speculator == null ? 0 : speculator.accepted(), ttft.snapshot(), itl.snapshot());
    }

    /** Runs {@code task} on the engine thread between steps, without waiting for it (tests: pausing the engine). */
    void execute(Runnable task) { incoming.add(task); }

    /** Runs {@code f} on the engine thread between steps, with the block manager (tests: invariants, stats). */
    <T> T inspectKv(Function<KvBlockManager, T> f) { return onEngineThread(() -> f.apply(scheduler.kv())); }

    /** Like {@link #inspectKv} with the draft model's block manager; the engine must have a draft model. */
    <T> T inspectDraftKv(Function<KvBlockManager, T> f) {
        if (draft == null) throw new IllegalStateException("the engine has no draft model");
        return onEngineThread(() -> f.apply(((DraftProposer) speculator.proposer()).kv()));
    }

    private <T> T onEngineThread(java.util.function.Supplier<T> f) {
        java.util.concurrent.CompletableFuture<T> result = new java.util.concurrent.CompletableFuture<>();
        incoming.add((Runnable) () -> {
            try {
                result.complete(f.get());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        if (!thread.isAlive()) throw new IllegalStateException("engine thread is not running");
        return result.join();
    }

    // ---- the engine thread ----

    private void loop() {
        while (true) {
            try {
                drain();
                if (closing) {
                    shutdown();
                    return;
                }
                reap();
                if (speculator != null && !propose()) continue;
                Scheduler.Step step = scheduler.schedule();
                if (step == null) {
                    Sequence stuck = scheduler.stuck();
                    if (stuck != null) {
                        scheduler.remove(stuck);
                        finish(stuck, FinishReason.ERROR, new IllegalStateException("request " + stuck.id + " cannot be admitted into an empty KV cache"));
                    } else {
                        publishState();
                        Object o = incoming.poll(100, TimeUnit.MILLISECONDS);
                        if (o != null) accept(o);
                    }
                    continue;
                }
                run(step);
                steps++;
                publishState();
            } catch (Throwable t) {
                if (t instanceof RuntimeException e && stopIfDeviceUnusable(e)) continue;
                // a bug in the bookkeeping: fail what is in flight rather than hang its callers
                fatal = t;
                for (Sequence s : scheduler.removeIf(x -> true)) finish(s, FinishReason.ERROR, t);
                if (t instanceof Error && !(t instanceof AssertionError) && !(t instanceof OutOfMemoryError)) {
                    closing = true;
                }
            }
        }
    }

    private void drain() {
        Object o;
        while ((o = incoming.poll()) != null) accept(o);
    }

    private void accept(Object o) {
        if (o instanceof Sequence s) {
            notDrained.decrementAndGet();
            IllegalStateException stop = stopped;
            if (stop != null) finish(s, FinishReason.ERROR, stop); // submitted while the engine was stopping
            else scheduler.enqueue(s);
        } else if (o instanceof Runnable task) task.run();
    }

    /** Finishes cancelled and expired requests. */
    private void reap() {
        long now = System.nanoTime();
        for (Sequence s : scheduler.removeIf(s -> s.handle.cancelRequested() || now - s.deadlineNanos > 0))
            finish(s, s.handle.cancelRequested() ? FinishReason.CANCELLED : FinishReason.DEADLINE, null);
    }

    /** Gives the sequences about to decode their speculative tokens; false when that failed (the loop starts over). */
    private boolean propose() {
        try {
            speculator.propose(scheduler.running);
            return true;
        } catch (RuntimeException e) {
            if (!stopIfDeviceUnusable(e)) fail(scheduler.running.stream().filter(s -> !s.isPrefilling()).toList(), e);
            return false;
        }
    }

    private void run(Scheduler.Step step) {
        List<Sequence> seqs = step.seqs();
        int nb = seqs.size();
        int[][] emitted = new int[nb][];
        // a sequence verifying k proposed tokens needs the logits of its last k + 1 tokens, any other one those of its last
        int[] rows = new int[nb];
        for (int b = 0; b < nb; b++) rows[b] = seqs.get(b).proposal == null ? 1 : step.newTokens()[b];
        try (Tensor logits = model.forward(step.batch(), cache, rows)) {
            boolean[] needs = scheduler.complete(step);
            // one sampler call for every row: a plain entry's last row with its request's parameters, a verifying entry's rows greedy (their argmax)
            int total = 0;
            for (int r : rows) total += r;
            Sampling.Params[] params = new Sampling.Params[total];
            long[] counters = new long[total];
            for (int b = 0, row = 0; b < nb; row += rows[b++]) {
                Sequence s = seqs.get(b);
                boolean plain = needs[b] && s.proposal == null;
                for (int r = row; r < row + rows[b]; r++) {
                    params[r] = plain ? s.params() : Sampling.Params.greedy();
                    counters[r] = s.generatedCount();
                }
            }
            int[] sampled = Sampling.sample(logits, params, counters);
            for (int b = 0, row = 0; b < nb; row += rows[b++]) {
                Sequence s = seqs.get(b);
                if (!needs[b]) continue;
                emitted[b] = s.proposal == null ? new int[] {sampled[row]} : speculator.verify(s, scheduler, logits, row, sampled);
            }
        } catch (RuntimeException e) {
            if (stopIfDeviceUnusable(e)) return;
            // recoverable (a launch that did not fit, out of memory, ...): only this step's requests fail
            fail(seqs, e);
            return;
        }
        long now = System.nanoTime();
        for (int b = 0; b < nb; b++) {
            if (emitted[b] != null) emit(seqs.get(b), emitted[b], now);
        }
    }

    /** Adds {@code tokens} to {@code s} and streams them, in order, up to a stop token or maxNewTokens, where it finishes. */
    private void emit(Sequence s, int[] tokens, long now) {
        for (int token : tokens) {
            s.addGenerated(token);
            generatedTokens++;
            if (s.generatedCount() == 1) ttft.record(now - s.submitNanos);
            else itl.record(now - s.lastTokenNanos);
            s.lastTokenNanos = now;
            s.handle.emit(token);
            FinishReason reason = s.request.isStop(token) ? FinishReason.STOP
                    : s.generatedCount() >= s.request.maxNewTokens() ? FinishReason.LENGTH : null;
            if (reason != null) {
                scheduler.remove(s);
                finish(s, reason, null);
                return;
            }
        }
    }

    /** Removes {@code seqs} from the scheduler and finishes them with ERROR: {@code e} hit a step they were part of. */
    private void fail(List<Sequence> seqs, RuntimeException e) {
        for (Sequence s : new ArrayList<>(seqs)) {
            scheduler.remove(s);
            finish(s, FinishReason.ERROR, e);
        }
    }

    /**
     * When {@code e} says the device can no longer run anything (a sticky CUDA error, thrown by the
     * call that hit it or, wrapped, by the poisoned device on every later call), stops the engine:
     * every unfinished request finishes with ERROR naming the device error, and submissions are
     * refused from then on. Returns whether it did.
     */
    private boolean stopIfDeviceUnusable(RuntimeException e) {
        CudaException sticky = stickyCause(e);
        if (sticky == null) return false;
        if (stopped == null) {
            String device = model.device().description();
            // the poisoned device says "<device> is unusable since <first error>; ..." itself; the call that hit the error does not
            String why = e instanceof IllegalStateException && e.getMessage() != null && e.getMessage().startsWith(device + " is unusable since ")
                    ? e.getMessage()
                    : device + " is unusable since " + sticky.getMessage() + "; the CUDA context cannot recover from this error: restart the process";
            IllegalStateException stop = new IllegalStateException("engine stopped: " + why, e);
            submitLock.lock();
            try {
                stopped = stop; // under the lock: a submission either sees it or is queued before the drain below
            } finally {
                submitLock.unlock();
            }
        }
        drain();
        for (Sequence s : scheduler.removeIf(x -> true)) finish(s, FinishReason.ERROR, stopped);
        return true;
    }

    /** The sticky CUDA error in {@code t}'s cause chain, or null. */
    private static CudaException stickyCause(Throwable t) {
        for (int depth = 0; t != null && depth < 16; t = t.getCause(), depth++)
            if (t instanceof CudaException c && c.isSticky()) return c;
        return null;
    }

    /** Completes {@code s}'s handle; the scheduler no longer holds {@code s}. */
    private void finish(Sequence s, FinishReason reason, Throwable error) {
        // before the caller can see the result, so that metrics() already counts it finished and not running
        finished++;
        publishState();
        pending.release();
        s.handle.finish(new Result(s.generated(), reason, s.prompt.length, Math.max(0, s.cachedPromptTokens), s.preemptions, error));
    }

    private void shutdown() {
        drain();
        for (Sequence s : scheduler.removeIf(x -> true)) finish(s, FinishReason.SHUTDOWN, null);
    }

    private void publishState() {
        KvBlockManager.Stats st = scheduler.kv().stats();
        double hit = st.prefixQueries() == 0 ? 0 : (double) st.prefixHitBlocks() / st.prefixQueries();
        state = new Metrics(scheduler.waiting.size(), scheduler.running.size(), 0, 0, scheduler.preemptions, 0, st.usedBlocks(), st.cachedBlocks(),
                st.totalBlocks(), hit, scheduler.prefillTokens, scheduler.cachedPromptTokens, 0, 0, 0, null, null);
    }

    /** The failure that last made the engine drop everything in flight (a bug), or null. */
    public Throwable lastInternalError() { return fatal; }

    /**
     * Why the engine stopped serving ("engine stopped: &lt;device&gt; is unusable since ..."; its
     * cause is the device error), or null while it serves. Set once the device became unusable.
     */
    public IllegalStateException stoppedBy() { return stopped; }

    /** Finishes every unfinished request with {@link FinishReason#SHUTDOWN}, stops the engine thread, closes the KV cache and the model. */
    @Override
    public void close() {
        submitLock.lock();
        try {
            closing = true;
        } finally {
            submitLock.unlock();
        }
        wake();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        synchronized (this) {
            if (cacheClosed) return;
            cacheClosed = true;
            List<Runnable> closers = new ArrayList<>();
            if (speculator != null) closers.add(speculator::close);
            if (draft != null) closers.add(draft::close);
            closers.add(cache::close);
            closers.add(model::close);
            RuntimeException first = null;
            for (Runnable c : closers) {
                try {
                    c.run();
                } catch (RuntimeException e) {
                    if (first == null) first = e;
                }
            }
            // on an unusable device the memory cannot be given back: the process must end anyway
            if (first != null && stopped == null) throw first;
        }
    }

    private boolean cacheClosed;
}
