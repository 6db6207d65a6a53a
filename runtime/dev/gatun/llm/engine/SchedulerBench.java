package dev.gatun.llm.engine;

import dev.gatun.kv.KvBlockManager;
import dev.gatun.ops.Sampling;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Benchmark support (benchmarks/.../SchedulerStepJmh): drives the engine's real {@link Scheduler}
 * and {@link KvBlockManager} through steps exactly as the engine thread does, minus the model. One
 * {@link #step()} is the engine's per-step CPU bookkeeping: {@link Scheduler#schedule()} (choosing
 * the sequences, {@link KvBlockManager#appendToken} for every decode, admissions with
 * {@link KvBlockManager#admit}, and building the batch description: tokens, positions, KV slots,
 * block tables), then {@link Scheduler#complete} (marking the step's K/V computed, which registers
 * full blocks in the prefix cache) and, in place of sampling, appending one synthetic token to every
 * sequence that needs one. No forward pass, no sampling, no device: the figure is what the scheduler
 * adds to every step on top of the model.
 *
 * <p>The workload is steady-state continuous batching: {@code sequences} requests run at once,
 * each with a random prompt of {@code promptTokens .. 2 * promptTokens} tokens, generating until
 * the sequence reaches {@code maxLength} tokens; a finished request is replaced by a new one (so
 * admissions and prefill chunks of newcomers are part of the steady state, as in serving). The
 * KV pool is large enough that nothing is preempted. Not thread-safe.
 */
public final class SchedulerBench {
    private final Scheduler scheduler;
    private final int sequences, promptTokens, maxLength, vocab = 32000;
    private final SplittableRandom random;
    private long nextId;
    /** Batch tokens of the last step, for the benchmark's blackhole. */
    private int lastBatchTokens;

    private SchedulerBench(int sequences, int promptTokens, int maxLength, int blockSize, long seed) {
        this.sequences = sequences;
        this.promptTokens = promptTokens;
        this.maxLength = maxLength;
        this.random = new SplittableRandom(seed);
        int blocksPerSequence = (maxLength + blockSize - 1) / blockSize + 1;
        // room for every running sequence at its longest, plus a cached tail for the prefix cache
        KvBlockManager kv = new KvBlockManager(sequences * blocksPerSequence + 2 * blocksPerSequence, blockSize, true);
        // a decode token for everyone plus a prefill budget that keeps up with the newcomers (about 0.6 prompt tokens per running sequence per step here)
        this.scheduler = new Scheduler(kv, sequences + Math.max(256, sequences), sequences);
        for (int i = 0; i < sequences; i++) scheduler.enqueue(newSequence());
    }

    /**
     * A steady state of {@code sequences} running sequences (prompts of {@code promptTokens ..
     * 2 * promptTokens} tokens, each generating up to {@code maxLength} tokens in all) over
     * {@code blockSize}-token blocks; the first steps (prefilling everyone) are run here, and as
     * many more as it takes for the sequences' lengths to spread out.
     */
    public static SchedulerBench steadyState(int sequences, int promptTokens, int maxLength, int blockSize, long seed) {
        if (sequences < 1 || promptTokens < 1 || maxLength <= 2 * promptTokens || blockSize < 1 || Integer.bitCount(blockSize) != 1)
            throw new IllegalArgumentException("scheduler bench: need sequences >= 1, promptTokens >= 1, maxLength > 2 * promptTokens and a power-of-two blockSize");
        SchedulerBench b = new SchedulerBench(sequences, promptTokens, maxLength, blockSize, seed);
        for (int i = 0; i < maxLength; i++) b.step();
        return b;
    }

    private Sequence newSequence() {
        int n = promptTokens + random.nextInt(promptTokens + 1);
        int[] prompt = new int[n];
        for (int i = 0; i < n; i++) prompt[i] = random.nextInt(vocab);
        long id = nextId++;
        Request r = new Request(prompt, Sampling.Params.greedy(), maxLength - n, null, null);
        return new Sequence(id, new RequestHandle(id, r, () -> {}), r, 0);
    }

    /** One engine step without the model; returns the tokens in its batch. */
    public int step() {
        Scheduler.Step step = scheduler.schedule();
        if (step == null) throw new IllegalStateException("scheduler bench: nothing to schedule");
        boolean[] sample = scheduler.complete(step);
        List<Sequence> seqs = step.seqs();
        List<Sequence> done = null;
        for (int b = 0; b < sample.length; b++) {
            if (!sample[b]) continue;
            Sequence s = seqs.get(b);
            s.addGenerated((int) ((s.id * 31 + s.length()) % vocab)); // stands in for sampling
            if (s.generatedCount() >= s.request.maxNewTokens()) {
                if (done == null) done = new ArrayList<>();
                done.add(s);
            }
        }
        if (done != null)
            for (Sequence s : done) {
                scheduler.remove(s);
                scheduler.enqueue(newSequence());
            }
        lastBatchTokens = step.batch().tokens().length;
        return lastBatchTokens;
    }

    /** Running sequences now. */
    public int running() { return scheduler.running.size(); }

    /** Requests waiting for admission now. */
    public int waiting() { return scheduler.waiting.size(); }

    public int sequences() { return sequences; }

    /** Preemptions so far (0 unless the pool was too small). */
    public long preemptions() { return scheduler.preemptions; }
}
