package dev.gatun.bench.serve;

import java.util.Random;

/**
 * When each request is sent, as vLLM's benchmark does it: the first at once, then gaps drawn
 * independently from an exponential distribution of mean 1 / rate (a Poisson process of
 * {@code rate} requests per second); an infinite rate sends everything at once.
 */
final class Arrivals {
    private Arrivals() {}

    /** Send times in seconds from the start of the benchmark, ascending, from a generator seeded with {@code seed}. */
    static double[] seconds(int requests, double rate, long seed) {
        if (requests < 1) throw new IllegalArgumentException("arrivals: the number of requests must be >= 1, got " + requests);
        if (!(rate > 0)) throw new IllegalArgumentException("arrivals: the request rate must be > 0 requests/s (or infinite), got " + rate);
        double[] at = new double[requests];
        if (Double.isInfinite(rate)) return at;
        Random random = new Random(seed);
        for (int i = 1; i < requests; i++) at[i] = at[i - 1] + random.nextExponential() / rate;
        return at;
    }
}
