package dev.gatun.bench.serve;

import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Poisson arrival times: exponential gaps of mean 1 / rate, checked within five standard errors. */
class ArrivalsTest {
    @Test
    void gapsAreExponentialWithMeanOneOverRate() {
        int n = 20_001;
        double rate = 4;
        long seed = Seeds.of("arrivals");
        double[] at = Arrivals.seconds(n, rate, seed);
        assertEquals(0, at[0], "the first request goes at once");
        double sum = 0, sumSq = 0;
        int belowMean = 0;
        for (int i = 1; i < n; i++) {
            double gap = at[i] - at[i - 1];
            assertTrue(gap >= 0, "arrivals ascend");
            sum += gap;
            sumSq += gap * gap;
            if (gap <= 1 / rate) belowMean++;
        }
        int gaps = n - 1;
        double mean = sum / gaps, sd = Math.sqrt(sumSq / gaps - mean * mean);
        // an exponential's standard deviation equals its mean, so the sample mean's standard error is mean / sqrt(n)
        assertEquals(1 / rate, mean, 5 * (1 / rate) / Math.sqrt(gaps), "mean gap" + Seeds.replay());
        // the sample sd of an exponential: standard error ~ sd * sqrt((kurtosis - 1) / 4n) with kurtosis 9
        assertEquals(1 / rate, sd, 5 * (1 / rate) * Math.sqrt(8.0 / (4 * gaps)), "gap standard deviation" + Seeds.replay());
        // P(gap <= mean) = 1 - 1/e for an exponential
        double p = 1 - Math.exp(-1);
        assertEquals(p, (double) belowMean / gaps, 5 * Math.sqrt(p * (1 - p) / gaps), "fraction of gaps below the mean" + Seeds.replay());
    }

    @Test
    void sameSeedSameTimesAndInfiniteRateSendsAllAtOnce() {
        assertArrayEquals(Arrivals.seconds(50, 2, 9), Arrivals.seconds(50, 2, 9));
        assertArrayEquals(new double[5], Arrivals.seconds(5, Double.POSITIVE_INFINITY, 9));
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Arrivals.seconds(0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.seconds(3, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.seconds(3, Double.NaN, 0));
    }
}
