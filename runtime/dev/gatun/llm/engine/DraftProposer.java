package dev.gatun.llm.engine;

import dev.gatun.kv.KvBlockManager;
import dev.gatun.kv.OutOfBlocksException;
import dev.gatun.llm.LlamaModel;
import dev.gatun.ops.Sampling;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Proposals from a draft model (a smaller model over the same vocabulary), drawn autoregressively:
 * k draft passes per step, each batched over the sequences. The draft keeps its own paged KV cache
 * and {@link KvBlockManager} (as many blocks as the target's, so a request that fits the target
 * fits the draft alone). Per sequence it remembers how many tokens its cache holds computed; each
 * step first feeds what it has not seen (a whole prompt the first time, in chunks of at most
 * {@code maxChunkTokens} per step; afterwards the one or two tokens emitted since), whose last row
 * gives the first proposal, then one token per pass. Rejected proposals are dropped from its cache
 * at the next step. A sequence the draft has no blocks for gets no proposal (it decodes plainly)
 * and is taken up again later.
 *
 * <p>Greedy requests get the draft's argmax (the device sampler's); sampled requests get a token
 * drawn on the host from the draft's distribution under the request's temperature, top-k and
 * top-p ({@link TokenDistribution}), which is also the q that verification divides by, with
 * Philox uniforms under a key of their own (the seed mixed with a constant, counter = the token's
 * index in the output), so they are independent of the target's.
 */
final class DraftProposer implements Proposer {
    /** Mixed into a request's seed for the draft's uniforms. */
    private static final long DRAFT_STREAM = 0x6A09E667F3BCC909L;

    private final LlamaModel draft;
    private final LlamaModel.KvCache cache;
    private final KvBlockManager kv;
    private final int maxChunkTokens, vocab;
    /** Per sequence: how many of its first tokens the draft's cache holds computed (never a proposal not yet accepted, nor the last token before verification). */
    private final Map<Long, Integer> computed = new HashMap<>();

    /** Uses {@code draft} (the caller keeps it) with a new KV cache, which {@link #close} frees. */
    DraftProposer(LlamaModel draft, int numBlocks, int blockSize, boolean prefixCaching, int maxChunkTokens) {
        this.draft = draft;
        this.cache = draft.newCache(numBlocks, blockSize);
        this.kv = new KvBlockManager(numBlocks, blockSize, prefixCaching);
        this.maxChunkTokens = maxChunkTokens;
        this.vocab = draft.config().vocabSize();
    }

    /** The draft's block manager (tests: invariants). */
    KvBlockManager kv() { return kv; }

    @Override
    public void retain(Collection<Sequence> running) {
        Set<Long> ids = new HashSet<>();
        for (Sequence s : running) ids.add(s.id);
        computed.keySet().removeIf(id -> {
            if (ids.contains(id)) return false;
            kv.free(id);
            return true;
        });
    }

    @Override
    public Proposal[] propose(List<Sequence> seqs, int[] limits) {
        int n = seqs.size();
        int[][] drafted = new int[n][];
        double[][][] q = new double[n][][];
        int[] made = new int[n], from = new int[n], count = new int[n];
        // pass 0: everything the draft has not computed, the last token included, within the chunk budget
        List<Integer> active = new ArrayList<>();
        int budget = maxChunkTokens;
        for (int i = 0; i < n && budget > 0; i++) {
            Sequence s = seqs.get(i);
            if (!sync(s)) continue;
            from[i] = computed.get(s.id);
            count[i] = Math.min(s.length() - from[i], budget);
            budget -= count[i];
            active.add(i);
            drafted[i] = new int[limits[i]];
        }
        for (int pass = 0; !active.isEmpty(); pass++) {
            int[] drawn = draw(seqs, active, from, count, drafted, q, made);
            List<Integer> next = new ArrayList<>();
            for (int a = 0; a < active.size(); a++) {
                int i = active.get(a);
                Sequence s = seqs.get(i);
                if (pass == 0) {
                    // the last token counts as computed once its proposal is verified; until then each step feeds it again
                    int done = Math.min(from[i] + count[i], s.length() - 1);
                    computed.put(s.id, done);
                    kv.markComputed(s.id, done);
                    if (from[i] + count[i] < s.length()) continue; // still catching up: no proposal this step
                }
                drafted[i][made[i]++] = drawn[a];
                if (made[i] == limits[i] || !append(s, drawn[a])) continue;
                from[i] = s.length() + made[i] - 1; // the token just drawn is fed next
                count[i] = 1;
                next.add(i);
            }
            active = next;
        }
        Proposal[] out = new Proposal[n];
        for (int i = 0; i < n; i++)
            if (made[i] > 0) out[i] = new Proposal(Arrays.copyOf(drafted[i], made[i]), q[i] == null ? null : Arrays.copyOf(q[i], made[i]));
        return out;
    }

    /**
     * One draft pass feeding {@code count[i]} tokens from position {@code from[i]} of each active
     * sequence i (past its end: its drafted tokens). Returns the token drawn from each one's last
     * row, meaningful where that row follows the sequence's last token; for sampled requests it
     * records the row's distribution as {@code q[i][made[i]]}.
     */
    private int[] draw(List<Sequence> seqs, List<Integer> active, int[] from, int[] count, int[][] drafted, double[][][] q, int[] made) {
        int nb = active.size(), total = 0;
        for (int i : active) total += count[i];
        int[] tokens = new int[total], positions = new int[total], queryLens = new int[nb], seqLens = new int[nb];
        long[] slots = new long[total];
        int[][] tables = new int[nb][];
        Sampling.Params[] greedy = new Sampling.Params[nb];
        boolean anySampled = false;
        for (int a = 0, t = 0; a < nb; a++) {
            int i = active.get(a);
            Sequence s = seqs.get(i);
            for (int p = from[i]; p < from[i] + count[i]; p++, t++) {
                tokens[t] = p < s.length() ? s.tokenAt(p) : drafted[i][p - s.length()];
                positions[t] = p;
                slots[t] = kv.slot(s.id, p);
            }
            queryLens[a] = count[i];
            seqLens[a] = from[i] + count[i];
            tables[a] = kv.blockTable(s.id);
            greedy[a] = Sampling.Params.greedy();
            anySampled |= s.params().temperature() > 0;
        }
        try (Tensor logits = draft.forward(new LlamaModel.Batch(tokens, positions, slots, queryLens, seqLens, tables), cache)) {
            int[] drawn = Sampling.sample(logits, greedy, new long[nb]);
            if (!anySampled) return drawn;
            float[] rows = logits.toFloatArray();
            for (int a = 0; a < nb; a++) {
                int i = active.get(a);
                Sequence s = seqs.get(i);
                if (!(s.params().temperature() > 0) || from[i] + count[i] < s.length()) continue;
                double[] dist = TokenDistribution.of(rows, a * vocab, vocab, s.params());
                if (q[i] == null) q[i] = new double[drafted[i].length][];
                q[i][made[i]] = dist;
                // token index generated + made[i] in the output: its own counter in the draft's stream
                float u = Sampling.uniforms(draft.device(), s.params().seed() ^ DRAFT_STREAM, s.generatedCount() + made[i], 1)[0];
                drawn[a] = TokenDistribution.sample(dist, u);
            }
            return drawn;
        }
    }

    /**
     * Makes the draft's block manager hold exactly {@code s}'s tokens, its computed prefix kept
     * (admitting it, with prefix reuse, the first time). False, forgetting it, when no block is left.
     */
    private boolean sync(Sequence s) {
        Integer done = computed.get(s.id);
        if (done == null) {
            KvBlockManager.Admission a = kv.admit(s.id, s.allTokens());
            if (a == null) return false;
            computed.put(s.id, a.cachedTokens());
            return true;
        }
        kv.truncate(s.id, done); // proposals of the last step that were rejected, or never verified
        for (int p = done; p < s.length(); p++)
            if (!append(s, s.tokenAt(p))) return false;
        return true;
    }

    /** Appends one token to {@code s} in the draft's block manager; false, forgetting {@code s}, when no block is left. */
    private boolean append(Sequence s, int token) {
        try {
            if (kv.appendToken(s.id, token) != null)
                throw new IllegalStateException("draft sequence " + s.id + " needs a copy-on-write block copy, but sequences are never forked");
            return true;
        } catch (OutOfBlocksException e) {
            computed.remove(s.id);
            kv.free(s.id);
            return false;
        }
    }

    @Override
    public void accepted(Sequence s, int accepted) {
        if (!computed.containsKey(s.id)) return; // forgotten while drafting: out of blocks
        // the draft fed the last token and all its proposals but the final one: that many of them can stay
        int valid = s.length() + Math.min(accepted, s.proposal.tokens().length - 1);
        computed.put(s.id, valid);
        kv.markComputed(s.id, valid);
    }

    @Override
    public void close() { cache.close(); }
}
