package dev.gatun.llm.engine;

import java.util.Collection;
import java.util.List;

/**
 * Proposes the next few tokens of running sequences for the target model to verify in one pass
 * (speculative decoding). Implementations: {@link NgramProposer} (prompt lookup) and
 * {@link DraftProposer} (a smaller model). Called on the engine thread only.
 */
interface Proposer extends AutoCloseable {
    /**
     * Proposed tokens and the distributions they were drawn from ({@code q[i]} for token i, over
     * the vocabulary); {@code q} is null, or a row of it is, where a token was chosen
     * deterministically (a point mass). Verification needs q only for sampled requests.
     */
    record Proposal(int[] tokens, double[][] q) {
        public Proposal {
            if (tokens.length == 0) throw new IllegalArgumentException("a proposal has at least one token");
            if (q != null && q.length != tokens.length)
                throw new IllegalArgumentException("a proposal of " + tokens.length + " tokens has " + q.length + " distributions");
        }

        double[] q(int i) { return q == null ? null : q[i]; }
    }

    /**
     * Proposals for {@code seqs} (running, their prompt computed, the last token not yet fed): at
     * most {@code limits[i] >= 1} tokens for sequence i, or null where there is none.
     */
    Proposal[] propose(List<Sequence> seqs, int[] limits);

    /**
     * After verification, before the emitted tokens are added to {@code s}: the target accepted
     * the first {@code accepted} tokens of {@code s.proposal}.
     */
    default void accepted(Sequence s, int accepted) {}

    /** Forgets every sequence not in {@code running} (finished, cancelled or preempted). */
    default void retain(Collection<Sequence> running) {}

    @Override
    default void close() {}
}
