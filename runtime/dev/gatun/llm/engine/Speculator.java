package dev.gatun.llm.engine;

import dev.gatun.device.Device;
import dev.gatun.ops.Sampling;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Speculative decoding in the engine's step. Before the scheduler builds a step, every running
 * sequence whose prompt is computed gets up to k proposed tokens ({@link Proposer}); the scheduler
 * feeds them after the sequence's last token, so one target pass scores k + 1 positions of each
 * (a short chunked prefill over the paged cache), and {@link #verify} turns the k + 1 logit rows
 * into 1 .. k + 1 emitted tokens ({@link RejectionSampler}). The rejected tokens' KV slots are
 * given back ({@link Scheduler#acceptProposed}).
 *
 * <p>Proposals are sized so that a step never emits past {@code maxNewTokens} (at most remaining
 * - 1 proposed, since the target adds one of its own), which also keeps a request's KV within
 * what plain decoding needs, and so that the step's decode tokens fit its token budget: what is
 * left after one token per decoding sequence goes to the oldest sequences' proposals first, and
 * prefill chunks get the rest (decode priority, as in plain steps). A sequence without a
 * proposal decodes plainly.
 *
 * <p>Greedy requests accept a proposal while it equals the target's argmax, so their tokens are
 * those of plain greedy decoding. Sampled requests use rejection sampling against the target's
 * distribution after temperature, top-k and top-p ({@link TokenDistribution}); its uniforms come
 * from Philox under the request's seed mixed with a constant of its own, counters 2t and 2t + 1
 * for output token t, independent of the draft's draws and of the plain sampler's. Given the same
 * proposals a request's tokens are reproducible; but how many tokens a step proposes depends on
 * its budget, so sampled output (unlike greedy) may change with the neighbours, and differs token
 * for token from plain sampling while following the same distribution.
 */
final class Speculator implements AutoCloseable {
    /** Mixed into a request's seed for verification's uniforms. */
    private static final long VERIFY_STREAM = 0xBB67AE8584CAA73BL;

    private final Proposer proposer;
    private final int tokens, maxBatchTokens, vocab;
    private final Device device;
    private volatile long proposed, accepted;

    Speculator(Proposer proposer, int tokens, int maxBatchTokens, int vocab, Device device) {
        this.proposer = proposer;
        this.tokens = tokens;
        this.maxBatchTokens = maxBatchTokens;
        this.vocab = vocab;
        this.device = device;
    }

    Proposer proposer() { return proposer; }

    /** Proposed tokens verified so far. */
    long proposed() { return proposed; }

    /** Of those, the ones the target accepted. */
    long accepted() { return accepted; }

    /** Sets {@link Sequence#proposal} on the running sequences that decode in the next step. */
    void propose(List<Sequence> running) {
        proposer.retain(running);
        List<Sequence> asked = new ArrayList<>();
        List<Integer> limits = new ArrayList<>();
        int decoding = 0;
        for (Sequence s : running) if (!s.isPrefilling()) decoding++;
        int spare = maxBatchTokens - decoding;
        for (Sequence s : running) {
            if (s.isPrefilling()) continue;
            int limit = Math.min(Math.min(tokens, s.request.maxNewTokens() - s.generatedCount() - 1), spare);
            if (limit < 1) continue;
            asked.add(s);
            limits.add(limit);
            spare -= limit;
        }
        if (asked.isEmpty()) return;
        Proposer.Proposal[] proposals = proposer.propose(asked, limits.stream().mapToInt(Integer::intValue).toArray());
        for (int i = 0; i < proposals.length; i++) asked.get(i).proposal = proposals[i];
    }

    /**
     * The tokens {@code s} emits for its proposal, from the k + 1 logit rows from {@code firstRow}
     * ({@code argmax[r]}: the target's argmax of row r, used by greedy requests). Gives the
     * rejected tokens' KV back and clears the proposal.
     */
    int[] verify(Sequence s, Scheduler scheduler, Tensor logits, int firstRow, int[] argmax) {
        int[] proposal = s.proposal.tokens();
        int k = proposal.length;
        int[] out;
        if (!(s.params().temperature() > 0)) {
            out = RejectionSampler.greedy(proposal, Arrays.copyOfRange(argmax, firstRow, firstRow + k + 1));
        } else {
            float[] rows;
            try (Tensor mine = logits.slice(0, firstRow, firstRow + k + 1)) {
                rows = mine.toFloatArray();
            }
            double[][] p = new double[k + 1][], q = new double[k][];
            for (int i = 0; i <= k; i++) p[i] = TokenDistribution.of(rows, i * vocab, vocab, s.params());
            for (int i = 0; i < k; i++) q[i] = s.proposal.q(i);
            float[] u = Sampling.uniforms(device, s.params().seed() ^ VERIFY_STREAM, 2L * s.generatedCount(), 2 * (k + 1));
            out = RejectionSampler.sample(proposal, q, p, u);
        }
        int kept = out.length - 1;
        scheduler.acceptProposed(s, kept);
        proposer.accepted(s, kept);
        s.proposal = null;
        proposed += k;
        accepted += kept;
        return out;
    }

    @Override
    public void close() { proposer.close(); }
}
