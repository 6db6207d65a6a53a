package dev.gatun.llm.engine;

/**
 * The acceptance rule of speculative decoding (Leviathan et al. 2023; Chen et al. 2023). Given k
 * proposed tokens and the target's k + 1 next-token distributions (row i follows the sequence
 * extended by the first i proposals), it returns the tokens to emit: the accepted prefix of the
 * proposals and then one token of the target's own, so 1 .. k + 1 tokens. Every emitted token is
 * distributed exactly as the target alone would have drawn it.
 */
final class RejectionSampler {
    private RejectionSampler() {}

    /** Greedy: proposals are accepted while they equal the target's argmax; then the target's argmax. {@code argmax} has k + 1 entries. */
    static int[] greedy(int[] proposal, int[] argmax) {
        if (argmax.length != proposal.length + 1)
            throw new IllegalArgumentException("verify: " + proposal.length + " proposals need " + (proposal.length + 1) + " target rows, got " + argmax.length);
        int a = 0;
        while (a < proposal.length && proposal[a] == argmax[a]) a++;
        int[] out = java.util.Arrays.copyOf(proposal, a + 1);
        out[a] = argmax[a];
        return out;
    }

    /**
     * Sampling: proposal i is accepted with probability min(1, p_i(x) / q_i(x)); at the first
     * rejection the emitted token is drawn from norm(max(0, p_i - q_i)) and verification stops;
     * when all are accepted a bonus token is drawn from p_k.
     *
     * @param p  the target's k + 1 distributions
     * @param q  the proposer's k distributions the proposals were drawn from; a null row is a point
     *           mass on the proposal (a deterministic proposer such as prompt lookup)
     * @param u  2(k + 1) uniforms in [0, 1): {@code u[2i]} decides acceptance of proposal i,
     *           {@code u[2i + 1]} draws the token emitted at position i when the target picks it
     */
    static int[] sample(int[] proposal, double[][] q, double[][] p, float[] u) {
        int k = proposal.length;
        if (p.length != k + 1 || q.length != k || u.length != 2 * (k + 1))
            throw new IllegalArgumentException("verify: " + k + " proposals need " + (k + 1) + " target rows, " + k + " proposal rows and "
                    + 2 * (k + 1) + " uniforms, got " + p.length + ", " + q.length + " and " + u.length);
        for (int i = 0; i < k; i++) {
            int x = proposal[i];
            double px = p[i][x], qx = q[i] == null ? 1 : q[i][x];
            if (u[2 * i] * qx < px) continue; // accepted: u < p/q, always when p >= q
            double[] residual = new double[p[i].length];
            double mass = 0;
            for (int t = 0; t < residual.length; t++) {
                double qt = q[i] == null ? (t == x ? 1 : 0) : q[i][t];
                mass += residual[t] = Math.max(0, p[i][t] - qt);
            }
            // p == q up to rounding makes a rejection (almost) impossible; should one happen, p itself is the right law
            int token = TokenDistribution.sample(mass > 0 ? residual : p[i], u[2 * i + 1]);
            int[] out = java.util.Arrays.copyOf(proposal, i + 1);
            out[i] = token;
            return out;
        }
        int[] out = java.util.Arrays.copyOf(proposal, k + 1);
        out[k] = TokenDistribution.sample(p[k], u[2 * k + 1]);
        return out;
    }
}
