package dev.gatun.bench;

import java.util.Arrays;

import dev.gatun.device.Device;
import dev.gatun.device.Event;

/**
 * Device-event timing (host time on cpu and emu): the median over repetitions after a warm-up.
 * At least the requested repetitions, and more until the op has run {@link #MIN_SECONDS}: 15
 * repetitions of a 1 ms op sample 15 ms, within one phase of the host's memory speed, and left
 * runs of the same build 30% apart (measured on the 2-core VM of the README's figures).
 */
final class Timing {
    /** Least time measured per op; the torch peer's loop keeps the same floor. */
    static final double MIN_SECONDS = 0.3;
    private static final int MAX_REPETITIONS = 20_000;

    private Timing() {}

    static double medianSeconds(Device device, Runnable action, int repetitions) {
        return pairedMedianSeconds(device, action, null, repetitions)[0];
    }

    /**
     * Median seconds of {@code action} and of {@code beside} (host time; null: none), their
     * repetitions alternated so that both see the same moments of a noisy machine.
     */
    static double[] pairedMedianSeconds(Device device, Runnable action, Runnable beside, int repetitions) {
        action.run();
        if (beside != null) for (int i = 0; i < 2; i++) beside.run(); // fault the pages in, settle the clocks
        double[] seconds = new double[repetitions], besideSeconds = new double[repetitions];
        int n = 0;
        double total = 0;
        try (Event start = device.newEvent(); Event end = device.newEvent()) {
            for (; n < repetitions || (total < MIN_SECONDS && n < MAX_REPETITIONS); n++) {
                if (n == seconds.length) {
                    seconds = Arrays.copyOf(seconds, 2 * n);
                    besideSeconds = Arrays.copyOf(besideSeconds, 2 * n);
                }
                start.record(device.defaultStream());
                action.run();
                end.record(device.defaultStream());
                seconds[n] = end.elapsedMillisSince(start) / 1e3;
                total += seconds[n];
                if (beside != null) {
                    long t = System.nanoTime();
                    beside.run();
                    besideSeconds[n] = (System.nanoTime() - t) / 1e9;
                }
            }
        }
        return new double[] {Ceilings.median(Arrays.copyOf(seconds, n)), Ceilings.median(Arrays.copyOf(besideSeconds, n))};
    }
}
