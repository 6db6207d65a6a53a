package dev.gatun.testing;

import java.util.Random;

/**
 * Fresh random inputs every run, reproducible from the printed seed: {@code -Dgatun.test.seed=N}
 * replays a failure.
 */
public final class Seeds {
    private static final long BASE = Long.getLong("gatun.test.seed", System.nanoTime());

    private Seeds() {}

    /** A seed for one test case: the run's base seed mixed with the case's name. */
    public static long of(String testCase) {
        return BASE ^ (testCase.hashCode() * 0x9E3779B97F4A7C15L);
    }

    public static Random random(String testCase) { return new Random(of(testCase)); }

    /** Appended to assertion messages. */
    public static String replay() { return " [replay with -Dgatun.test.seed=" + BASE + "]"; }

    /** Gaussian values with occasional large magnitudes: never all zeros. */
    public static float[] gaussian(Random random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextGaussian() * scale * (random.nextInt(16) == 0 ? 4 : 1));
        return v;
    }
}
