package dev.gatun.llm.engine;

import java.util.List;

/**
 * Prompt lookup (n-gram) proposals: the last n tokens of a sequence (n from {@code maxN} down to
 * {@code minN}) are searched for earlier in its own context, prompt and generated tokens, the most
 * recent occurrence first; the tokens that followed that occurrence are proposed. It costs no
 * model pass and pays off where outputs repeat their input (code edits, extraction, summaries).
 * Proposals are deterministic: point masses for verification.
 */
final class NgramProposer implements Proposer {
    private final int minN, maxN;

    /** {@code 1 <= minN <= maxN}, as {@link Engine.Speculation} checks. */
    NgramProposer(int minN, int maxN) {
        this.minN = minN;
        this.maxN = maxN;
    }

    @Override
    public Proposal[] propose(List<Sequence> seqs, int[] limits) {
        Proposal[] out = new Proposal[seqs.size()];
        for (int i = 0; i < out.length; i++) {
            int[] tokens = seqs.get(i).allTokens();
            int[] found = lookup(tokens, limits[i]);
            if (found != null) out[i] = new Proposal(found, null);
        }
        return out;
    }

    /** Up to {@code k} tokens following the most recent earlier occurrence of the longest matching suffix, or null. */
    int[] lookup(int[] tokens, int k) {
        int length = tokens.length;
        for (int n = Math.min(maxN, length - 1); n >= minN; n--) {
            // an occurrence starting at i is followed by tokens[i + n]; i + n < length excludes the suffix itself
            for (int i = length - n - 1; i >= 0; i--) {
                if (!matches(tokens, i, length - n, n)) continue;
                int from = i + n;
                return java.util.Arrays.copyOfRange(tokens, from, Math.min(from + k, length));
            }
        }
        return null;
    }

    private static boolean matches(int[] tokens, int a, int b, int n) {
        for (int j = 0; j < n; j++) if (tokens[a + j] != tokens[b + j]) return false;
        return true;
    }
}
