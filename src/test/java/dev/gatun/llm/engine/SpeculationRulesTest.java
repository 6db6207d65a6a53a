package dev.gatun.llm.engine;

import dev.gatun.ops.Sampling;
import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The rules of speculative decoding without a model: the acceptance rule on explicit p and q
 * (greedy and rejection sampling), the host's filtered distribution against an fp64 reference, and
 * prompt lookup.
 */
class SpeculationRulesTest {
    /**
     * The first token emitted for one proposal, over a grid of both uniforms and every proposal
     * weighted by q, is distributed as p (to the grid's resolution); a point-mass q likewise.
     */
    @Test
    void rejectionRuleEmitsTheTargetDistribution() {
        Random random = Seeds.random("rejectionRule");
        int v = 5, grid = 400;
        double[] p = dirichlet(random, v), q = dirichlet(random, v), bonus = dirichlet(random, v);
        p[3] = 0; // a token the target never picks, which the draft may propose
        double sum = Arrays.stream(p).sum();
        for (int i = 0; i < v; i++) p[i] /= sum;
        // a draft distribution q: x drawn from q; a point mass: each x in turn (the distribution holds for every x)
        double[] drafted = emitted(null, q, p, bonus, grid);
        for (int t = 0; t < v; t++) assertEquals(p[t], drafted[t], 2.0 / grid, "token " + t + ": " + Arrays.toString(drafted) + Seeds.replay());
        for (int x = 0; x < v; x++) {
            double[] looked = emitted(x, null, p, bonus, grid);
            for (int t = 0; t < v; t++) assertEquals(p[t], looked[t], 2.0 / grid, "point mass on " + x + ", token " + t + Seeds.replay());
        }
        // p = q is always accepted, and with every proposal accepted the bonus row decides the last token
        assertArrayEquals(new int[] {1, 2, 4}, RejectionSampler.sample(new int[] {1, 2}, new double[][] {p, q}, new double[][] {p, q, {0, 0, 0, 0, 1}},
                new float[] {0.999f, 0, 0.999f, 0, 0, 0.3f}));
        // greedy: the longest prefix equal to the argmax, then the argmax
        assertArrayEquals(new int[] {3, 5, 2}, RejectionSampler.greedy(new int[] {3, 5, 7}, new int[] {3, 5, 2, 9}));
        assertArrayEquals(new int[] {3, 5, 7, 1}, RejectionSampler.greedy(new int[] {3, 5, 7}, new int[] {3, 5, 7, 1}));
        assertArrayEquals(new int[] {4}, RejectionSampler.greedy(new int[] {3, 5, 7}, new int[] {4, 5, 7, 1}));
    }

    /** P(first emitted token = t) for one proposal, over a grid of both uniforms: x drawn from q, or {@code pointMass} itself when q is null. */
    static double[] emitted(Integer pointMass, double[] q, double[] p, double[] bonus, int grid) {
        double[] emitted = new double[p.length];
        for (int x = 0; x < p.length; x++) {
            double weight = q == null ? (x == pointMass ? 1 : 0) : q[x];
            if (weight == 0) continue;
            for (int a = 0; a < grid; a++)
                for (int b = 0; b < grid; b++) {
                    float[] u = {(a + 0.5f) / grid, (b + 0.5f) / grid, 0.5f, 0.5f};
                    int[] out = RejectionSampler.sample(new int[] {x}, new double[][] {q}, new double[][] {p, bonus}, u);
                    if (out.length == 2) assertEquals(x, out[0], "an accepted proposal is emitted first");
                    emitted[out[0]] += weight / grid / grid;
                }
        }
        return emitted;
    }

    static double[] dirichlet(Random random, int n) {
        double[] w = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += w[i] = -Math.log(1 - random.nextDouble());
        for (int i = 0; i < n; i++) w[i] /= sum;
        return w;
    }

    /** The host's filtered distribution equals the fp64 reference's (ties, -inf, every filter). */
    @Test
    void tokenDistributionMatchesTheReference() {
        Random random = Seeds.random("tokenDistribution");
        for (int trial = 0; trial < 50; trial++) {
            int v = 1 + random.nextInt(40);
            float[] row = new float[v];
            for (int i = 0; i < v; i++) row[i] = random.nextInt(8) == 0 ? row[Math.max(0, i - 1)] : (float) (random.nextGaussian() * 2);
            if (v > 3) row[2] = Float.NEGATIVE_INFINITY;
            double[] asDouble = new double[v];
            for (int i = 0; i < v; i++) asDouble[i] = row[i];
            Sampling.Params params = new Sampling.Params(0.3f + 2 * random.nextFloat(), random.nextInt(v + 2), random.nextBoolean() ? 1 : 0.05f + random.nextFloat() * 0.9f, 0);
            double[] expected = filtered(asDouble, params.temperature(), params.topK(), params.topP()), actual = TokenDistribution.of(row, 0, v, params);
            for (int i = 0; i < v; i++) assertEquals(expected[i], actual[i], 1e-6, "row " + Arrays.toString(row) + " " + params + ", token " + i);
        }
        double[] greedy = TokenDistribution.of(new float[] {1, 3, 3, -2}, 0, 4, Sampling.Params.greedy());
        assertArrayEquals(new double[] {0, 1, 0, 0}, greedy, "greedy: the argmax, the lower index on a tie");
    }

    @Test
    void promptLookupProposesWhatFollowedTheLatestMatch() {
        NgramProposer lookup = new NgramProposer(1, 3);
        assertArrayEquals(new int[] {9, 1, 2}, lookup.lookup(new int[] {1, 2, 3, 9, 1, 2, 3}, 3));
        assertArrayEquals(new int[] {9, 5}, lookup.lookup(new int[] {1, 2, 3, 9, 5, 2, 3, 8, 1, 2, 3}, 2), "the longest n-gram first");
        assertArrayEquals(new int[] {8, 1}, lookup.lookup(new int[] {2, 3, 9, 5, 2, 3, 8, 1, 2, 3}, 2), "its most recent match");
        assertArrayEquals(new int[] {7, 5, 4}, lookup.lookup(new int[] {4, 7, 5, 4}, 4), "a 1-gram when no longer one matches; stops at the end");
        assertNull(lookup.lookup(new int[] {1, 2, 3}, 2));
        assertNull(new NgramProposer(2, 2).lookup(new int[] {5, 5, 1, 5}, 2));
    }

    /** Temperature, then top-k, then the smallest top-p prefix of the sorted order (ties: lower index first), in double. */
    static double[] filtered(double[] logits, double temperature, int topK, double topP) {
        int v = logits.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Double.compare(logits[b], logits[a]) : Integer.compare(a, b));
        double max = logits[order[0]];
        double[] w = new double[v];
        for (int i = 0; i < v; i++) w[i] = Math.exp((logits[i] - max) / temperature);
        int k = topK <= 0 || topK >= v ? v : topK;
        double topKMass = 0;
        for (int j = 0; j < k; j++) topKMass += w[order[j]];
        double kept = 0;
        int count = 0;
        while (count < k && (count == 0 || kept < topP * topKMass)) kept += w[order[count++]];
        double[] p = new double[v];
        for (int j = 0; j < count; j++) p[order[j]] = w[order[j]] / kept;
        return p;
    }
}
