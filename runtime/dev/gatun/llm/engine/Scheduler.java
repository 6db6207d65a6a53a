package dev.gatun.llm.engine;

import dev.gatun.kv.KvBlockManager;
import dev.gatun.kv.OutOfBlocksException;
import dev.gatun.llm.LlamaModel;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Iteration-level (continuous) batching over a paged KV cache. Each {@link #schedule()} builds one
 * step's batch, in this order, under a budget of {@code maxBatchTokens} tokens and at most
 * {@code maxSequences} running sequences:
 * <ol>
 *   <li>one decode token for every running sequence whose prompt is computed, oldest admission
 *       first, followed by its speculative tokens when it has a {@link Sequence#proposal} (the
 *       target verifies them in this step; {@link #acceptProposed} then drops the rejected ones).
 *       Its KV slots are reserved with {@link KvBlockManager#appendToken}; when no block is
 *       left, the most recently admitted running sequence is preempted by recompute (its blocks
 *       freed, itself put back at the front of the waiting queue with its generated tokens now
 *       part of its prompt) and the append retried; a sequence that is itself the most recent
 *       preempts itself. The oldest sequence therefore always progresses;</li>
 *   <li>the next prefill chunk of every running sequence still prefilling (a long prompt takes
 *       several steps: chunked prefill), oldest first, as far as the budget goes;</li>
 *   <li>admissions from the waiting queue, first come first served, each with its first chunk:
 *       {@link KvBlockManager#admit} reuses cached prefix blocks (their tokens are skipped) and
 *       allocates the rest of the prompt's blocks. When it cannot, admission stops for this step
 *       (head-of-line: no overtaking, no preemption for a newcomer) until running sequences free
 *       blocks.</li>
 * </ol>
 * Not thread-safe: the engine thread owns it.
 */
final class Scheduler {
    /**
     * One step: {@code seqs[b]} feeds {@code newTokens[b]} tokens; {@code decode[b]} marks decode
     * entries (the last token, then the proposal if any).
     */
    record Step(List<Sequence> seqs, int[] newTokens, boolean[] decode, LlamaModel.Batch batch, int prefillTokens, int decodeTokens) {}

    private final KvBlockManager kv;
    private final int maxBatchTokens, maxSequences;
    final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    /** In admission order: the last is preempted first. */
    final List<Sequence> running = new ArrayList<>();
    long preemptions, prefillTokens, cachedPromptTokens;

    Scheduler(KvBlockManager kv, int maxBatchTokens, int maxSequences) {
        if (maxSequences < 1 || maxBatchTokens < maxSequences)
            throw new IllegalArgumentException("scheduler: need 1 <= maxSequences <= maxBatchTokens, got " + maxSequences + " and " + maxBatchTokens);
        this.kv = kv;
        this.maxBatchTokens = maxBatchTokens;
        this.maxSequences = maxSequences;
    }

    KvBlockManager kv() { return kv; }

    void enqueue(Sequence s) { waiting.addLast(s); }

    /** Takes {@code s} out of the scheduler, giving back its blocks. */
    void remove(Sequence s) {
        if (s.admitted) {
            kv.free(s.id);
            running.remove(s);
            s.admitted = false;
        } else waiting.remove(s);
    }

    /** Every sequence, waiting or running. */
    List<Sequence> all() {
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        return all;
    }

    private void preempt(Sequence victim) {
        kv.free(victim.id);
        running.remove(victim);
        victim.admitted = false;
        victim.computed = victim.kvLength = 0;
        victim.proposal = null;
        victim.preemptions++;
        preemptions++;
        waiting.addFirst(victim);
    }

    /**
     * The head of the waiting queue when nothing runs and it still cannot be admitted (it can never
     * be, so the engine fails it); null otherwise.
     */
    Sequence stuck() {
        if (!running.isEmpty() || waiting.isEmpty()) return null;
        return waiting.peekFirst();
    }

    /** Builds the next step, or returns null when there is nothing to run. */
    Step schedule() {
        List<Sequence> seqs = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        int budget = maxBatchTokens, decodes = 0;
        // 1. decodes, oldest first
        for (int i = 0; i < running.size(); i++) {
            Sequence s = running.get(i);
            if (s.isPrefilling()) continue;
            int feed = 1 + (s.proposal == null ? 0 : s.proposal.tokens().length);
            // tokens the cache holds beyond the scheduler's count (a rejected proposal not given back)
            // would be hashed into prefix-cache blocks that other requests reuse
            assert kv.length(s.id) == s.kvLength : "sequence " + s.id + ": the KV cache holds " + kv.length(s.id) + " tokens, the scheduler " + s.kvLength;
            boolean preemptedItself = false;
            while (s.kvLength < s.length() - 1 + feed) {
                int position = s.kvLength;
                int token = position < s.length() ? s.tokenAt(position) : s.proposal.tokens()[position - s.length()];
                try {
                    KvBlockManager.BlockCopy copy = kv.appendToken(s.id, token);
                    if (copy != null)
                        throw new IllegalStateException("sequence " + s.id + " needs a copy-on-write block copy " + copy
                                + ", but the engine never forks a sequence, so no block it writes can be shared");
                    s.kvLength++;
                } catch (OutOfBlocksException e) {
                    Sequence victim = running.getLast();
                    preempt(victim);
                    if (victim == s) {
                        preemptedItself = true;
                        break;
                    }
                }
            }
            if (preemptedItself) break; // it was the last running sequence
            s.scheduled = true;
            seqs.add(s);
            counts.add(feed);
            budget -= feed; // the speculator sized proposals so that every decode fits
            decodes++;
        }
        // 2. prefill chunks of admitted sequences, oldest first
        for (Sequence s : running) {
            if (budget == 0) break;
            if (s.scheduled || !s.isPrefilling()) continue;
            int n = Math.min(s.kvLength - s.computed, budget);
            s.scheduled = true;
            seqs.add(s);
            counts.add(n);
            budget -= n;
        }
        // 3. admissions, first come first served
        while (budget > 0 && running.size() < maxSequences && !waiting.isEmpty()) {
            Sequence s = waiting.peekFirst();
            KvBlockManager.Admission a = kv.admit(s.id, s.allTokens());
            if (a == null) break;
            waiting.pollFirst();
            s.admitted = true;
            s.kvLength = s.length();
            s.computed = a.cachedTokens();
            if (s.cachedPromptTokens < 0) {
                s.cachedPromptTokens = a.cachedTokens();
                cachedPromptTokens += a.cachedTokens();
            }
            running.add(s);
            int n = Math.min(s.kvLength - s.computed, budget);
            s.scheduled = true;
            seqs.add(s);
            counts.add(n);
            budget -= n;
        }
        for (Sequence s : seqs) s.scheduled = false;
        if (seqs.isEmpty()) return null;
        return build(seqs, counts, decodes);
    }

    private Step build(List<Sequence> seqs, List<Integer> counts, int decodes) {
        int nb = seqs.size(), total = 0;
        for (int c : counts) total += c;
        int[] tokens = new int[total], positions = new int[total], queryLens = new int[nb], seqLens = new int[nb];
        long[] slots = new long[total];
        int[][] tables = new int[nb][];
        boolean[] decode = new boolean[nb];
        int t = 0;
        for (int b = 0; b < nb; b++) {
            Sequence s = seqs.get(b);
            int n = counts.get(b);
            decode[b] = b < decodes;
            queryLens[b] = n;
            seqLens[b] = s.computed + n;
            tables[b] = kv.blockTable(s.id);
            for (int p = s.computed; p < s.computed + n; p++, t++) {
                tokens[t] = p < s.length() ? s.tokenAt(p) : s.proposal.tokens()[p - s.length()];
                positions[t] = p;
                slots[t] = kv.slot(s.id, p);
            }
        }
        int[] newTokens = queryLens.clone();
        int decodeTokens = 0;
        for (int b = 0; b < decodes; b++) decodeTokens += newTokens[b];
        return new Step(seqs, newTokens, decode, new LlamaModel.Batch(tokens, positions, slots, queryLens, seqLens, tables), total - decodeTokens, decodeTokens);
    }

    /**
     * After the step's forward pass: its K/V are written. Returns, per entry, whether it needs a
     * sampled token. Of an entry with a proposal only the last token counts as computed until
     * {@link #acceptProposed} says which proposed tokens stay.
     */
    boolean[] complete(Step step) {
        boolean[] sample = new boolean[step.seqs().size()];
        for (int b = 0; b < sample.length; b++) {
            Sequence s = step.seqs().get(b);
            if (!s.admitted) continue; // removed meanwhile (cannot happen on the engine thread, but be safe)
            int n = s.proposal == null ? step.newTokens()[b] : 1;
            kv.markComputed(s.id, s.computed + n);
            s.computed += n;
            if (!step.decode()[b]) prefillTokens += n;
            sample[b] = s.computed == s.kvLength || s.proposal != null;
        }
        return sample;
    }

    /**
     * After verification of {@code s}'s proposal: its first {@code accepted} tokens stay in the KV
     * cache (computed); the slots of the rejected ones are given back.
     */
    void acceptProposed(Sequence s, int accepted) {
        int keep = s.computed + accepted;
        kv.truncate(s.id, keep);
        kv.markComputed(s.id, keep);
        s.computed = s.kvLength = keep;
    }

    /** Removes every sequence matching {@code test}, giving back blocks; returns them. */
    List<Sequence> removeIf(java.util.function.Predicate<Sequence> test) {
        List<Sequence> removed = new ArrayList<>();
        for (Iterator<Sequence> it = waiting.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (test.test(s)) {
                it.remove();
                removed.add(s);
            }
        }
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (test.test(s)) {
                it.remove();
                kv.free(s.id);
                s.admitted = false;
                removed.add(s);
            }
        }
        return removed;
    }
}
