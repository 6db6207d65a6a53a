package dev.gatun.diffusion;

import dev.gatun.ops.DiffusionOps;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Denoises many latent-video requests with one {@link VideoDit}: requests are submitted from any
 * thread, and one engine thread runs the current step of every running request of one latent shape
 * (up to {@link Config#maxRows} model rows) as a single model call, whatever step each request is at:
 * each row carries its own timestep and condition id, and each request keeps its own
 * {@link DiffusionSampler} (plan, step index, multistep state). A request with guidance puts two rows
 * in the batch, its condition and the model's null condition; they are consecutive, so its slice of
 * the output is the {@code [cond | uncond]} pair its sampler's fused step expects.
 *
 * <p>Because every op of the model and the sampler works per sample, a request's result does not
 * depend on what it was batched with (bit for bit on cpu and emu). Initial noise is drawn on the host
 * from {@code java.util.Random(seed)}; the samplers' own noise is Philox keyed by the seed, so a
 * request's result depends only on the request. The engine does not own the model.
 */
public final class DiffusionEngine implements AutoCloseable {
    /**
     * @param maxRows  model rows per call at most (a guided request takes two); ≥ 2
     * @param schedule the training noise schedule the discrete-time samplers need (unused by FLOW_EULER)
     */
    public record Config(int maxRows, NoiseSchedule schedule) {
        public Config {
            if (maxRows < 2) throw new IllegalArgumentException("maxRows must be >= 2 (a guided request takes two rows), got " + maxRows);
            if (schedule == null) throw new IllegalArgumentException("a noise schedule is required");
        }
    }

    /**
     * One video to denoise: a latent {@code [channels, frames, height, width]}, how to sample, classifier-free
     * guidance (null = none: one model row per step), the condition id and the seed.
     */
    public record Request(int channels, int frames, int height, int width, SamplerConfig sampler, Guidance guidance, int condition,
                          long seed) {
        public Request {
            if (sampler == null) throw new IllegalArgumentException("a sampler config is required");
            if (channels < 1 || frames < 1 || height < 1 || width < 1)
                throw new IllegalArgumentException("the latent needs at least one channel, frame, row and column, got "
                        + channels + "×" + frames + "×" + height + "×" + width);
        }

        long[] shape() { return new long[] {1, channels, frames, height, width}; }
    }

    /** Called on the engine thread after each step of a request: step counts from 1 to steps. */
    @FunctionalInterface
    public interface Progress {
        void onStep(int step, int steps, double timestep);
    }

    /** The denoised latent {@code [channels, frames, height, width]} in row-major order (fp32). */
    public record Result(long[] shape, float[] latent) {}

    /** A submitted request: its result, and cancellation. */
    public static final class Handle {
        private final CompletableFuture<Result> result = new CompletableFuture<>();
        private volatile boolean cancelled;

        /** Stops the request at its next step; {@link #await} then throws CancellationException. */
        public void cancel() { cancelled = true; }

        public boolean isDone() { return result.isDone(); }

        /** Waits for the result; rethrows the request's failure. */
        public Result await() {
            try {
                return result.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for the request");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    /** A running request: its latent on the device, its sampler, and how it is called back. */
    private static final class Running {
        final Request request;
        final Handle handle;
        final Progress progress;
        Tensor x;
        DiffusionSampler sampler;

        Running(Request request, Handle handle, Progress progress) {
            this.request = request;
            this.handle = handle;
            this.progress = progress;
        }

        int rows() { return request.guidance() == null ? 1 : 2; }

        void close() {
            if (x != null) x.close();
            if (sampler != null) sampler.close();
            x = null;
            sampler = null;
        }
    }

    private final VideoDit model;
    private final Config config;
    private final LinkedBlockingQueue<Running> incoming = new LinkedBlockingQueue<>();
    private final List<Running> running = new ArrayList<>();
    private final AtomicLong modelCalls = new AtomicLong(), modelRows = new AtomicLong();
    private final Thread thread;
    private volatile boolean stopping;

    public DiffusionEngine(VideoDit model, Config config) {
        if (model == null || config == null) throw new IllegalArgumentException("a model and a config are required");
        this.model = model;
        this.config = config;
        thread = Thread.ofPlatform().name("gatun-diffusion-engine").daemon().start(this::loop);
    }

    /** Queues a request; {@code progress} may be null. Bad requests are rejected here, before any device work. */
    public Handle submit(Request request, Progress progress) {
        return submitAll(List.of(request), progress == null ? List.of() : List.of(progress)).getFirst();
    }

    /**
     * Queues several requests at once, so the engine starts them in the same step; {@code progress} is empty
     * or has one callback per request.
     */
    public List<Handle> submitAll(List<Request> requests, List<Progress> progress) {
        if (!progress.isEmpty() && progress.size() != requests.size())
            throw new IllegalArgumentException("give one progress callback per request, or none");
        for (Request r : requests) validate(r);
        List<Running> batch = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++)
            batch.add(new Running(requests.get(i), new Handle(), progress.isEmpty() ? null : progress.get(i)));
        synchronized (incoming) { // against the engine's final sweep: a request is either swept or refused
            if (stopping) throw new IllegalStateException("the diffusion engine is closed");
            incoming.addAll(batch);
        }
        return batch.stream().map(r -> r.handle).toList();
    }

    private void validate(Request r) {
        model.requireLatentShape(r.channels(), r.frames(), r.height(), r.width());
        VideoDitConfig c = model.config();
        if (r.condition() < 0 || r.condition() > c.numConditions())
            throw new IllegalArgumentException("condition id " + r.condition() + " is outside the model's [0, " + c.numConditions()
                    + "] (" + c.nullCondition() + " = unconditional)");
        if (r.sampler().prediction() != c.prediction())
            throw new IllegalArgumentException("the sampler expects " + r.sampler().prediction() + " but the model predicts " + c.prediction());
        if (2L * r.frames() * r.height() * r.width() * r.channels() > Integer.MAX_VALUE)
            throw new IllegalArgumentException("the latent " + r.channels() + "×" + r.frames() + "×" + r.height() + "×" + r.width() + " is too large");
    }

    /** Model calls made so far, and the rows they held (rows / calls is the mean batch). */
    public long modelCalls() { return modelCalls.get(); }

    public long modelRows() { return modelRows.get(); }

    private void loop() {
        try {
            while (!stopping) {
                if (running.isEmpty()) {
                    Running r = incoming.poll(100, TimeUnit.MILLISECONDS);
                    if (r == null) continue;
                    start(r);
                }
                for (Running r; (r = incoming.poll()) != null; ) start(r);
                dropCancelled();
                if (!running.isEmpty()) step(nextGroup());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally { // closed, or an Error: nobody may wait forever
            CancellationException closed = new CancellationException("the diffusion engine stopped");
            for (Running r : running) finish(r, null, closed);
            running.clear();
            synchronized (incoming) {
                stopping = true;
                for (Running r; (r = incoming.poll()) != null; ) finish(r, null, closed);
            }
        }
    }

    /** Samples the starting noise and creates the request's sampler; a failure fails only this request. */
    private void start(Running r) {
        try {
            Request q = r.request;
            r.sampler = DiffusionSampler.create(q.sampler(), config.schedule(), 1, q.seed());
            r.x = Tensor.empty(model.device(), model.dtype(), q.shape());
            float[] noise = new float[Math.toIntExact(r.x.numel())];
            Random random = new Random(q.seed());
            double sigma = r.sampler.initNoiseSigma();
            for (int i = 0; i < noise.length; i++) noise[i] = (float) (random.nextGaussian() * sigma);
            r.x.copyFrom(noise);
            running.add(r);
        } catch (RuntimeException e) {
            finish(r, null, e);
        }
    }

    private void dropCancelled() {
        for (Iterator<Running> it = running.iterator(); it.hasNext(); ) {
            Running r = it.next();
            if (r.handle.cancelled) {
                it.remove();
                finish(r, null, new CancellationException("the request was cancelled"));
            }
        }
    }

    /** The oldest request's shape group, in arrival order, up to maxRows rows; the group then goes to the back. */
    private List<Running> nextGroup() {
        long[] shape = running.getFirst().request.shape();
        List<Running> group = new ArrayList<>();
        int rows = 0;
        for (Running r : running)
            if (Arrays.equals(r.request.shape(), shape) && rows + r.rows() <= config.maxRows()) {
                group.add(r);
                rows += r.rows();
            }
        running.removeAll(group);
        running.addAll(group);
        return group;
    }

    /** One model call over the group's current steps, then each request's sampler step. */
    private void step(List<Running> group) {
        int rows = group.stream().mapToInt(Running::rows).sum();
        long[] shape = group.getFirst().request.shape();
        shape[0] = rows;
        double[] timesteps = new double[rows];
        int[] conditions = new int[rows];
        Tensor output;
        try (Tensor input = Tensor.empty(model.device(), model.dtype(), shape)) {
            int at = 0;
            for (Running r : group) {
                for (int j = 0; j < r.rows(); j++, at++) {
                    try (Tensor row = input.slice(0, at, at + 1)) {
                        scaledCopy(r.x, r.sampler.modelInputScale(), row);
                    }
                    timesteps[at] = r.sampler.timestep();
                    conditions[at] = j == 0 ? r.request.condition() : model.config().nullCondition();
                }
            }
            output = model.forward(input, timesteps, conditions);
            modelCalls.incrementAndGet();
            modelRows.addAndGet(rows);
        } catch (RuntimeException e) {
            for (Running r : group) {
                running.remove(r);
                finish(r, null, e);
            }
            return;
        }
        try (output) {
            int at = 0;
            for (Running r : group) {
                try (Tensor prediction = output.slice(0, at, at + r.rows())) {
                    double t = r.sampler.timestep();
                    r.sampler.step(r.x, prediction, r.request.guidance());
                    if (r.progress != null) r.progress.onStep(r.sampler.stepIndex(), r.sampler.numSteps(), t);
                    if (r.sampler.done()) {
                        running.remove(r);
                        long[] latent = Arrays.copyOfRange(r.x.shape(), 1, 5);
                        finish(r, new Result(latent, r.x.toFloatArray()), null);
                    }
                } catch (RuntimeException e) {
                    running.remove(r);
                    finish(r, null, e);
                }
                at += r.rows();
            }
        }
    }

    /** out = scale · x on the device: the fused step kernel with a = scale and every other term 0, or a copy. */
    private static void scaledCopy(Tensor x, double scale, Tensor out) {
        if (scale == 1) {
            out.copyFrom(x);
            return;
        }
        DiffusionOps.step(x, x, null, out, null, new DiffusionOps.SampleStep[] {new DiffusionOps.SampleStep(scale, 0, 0, 0, 0, 0, 1, 0, 0, 0)});
    }

    private static void finish(Running r, Result result, Throwable error) {
        r.close();
        if (error != null) r.handle.result.completeExceptionally(error);
        else r.handle.result.complete(result);
    }

    /** Stops the engine thread; requests still queued or running end with CancellationException. */
    @Override
    public void close() {
        stopping = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
