package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.device.Event;

/** Device-event timing (host time on cpu and emu): the median over repetitions after a warm-up. */
final class Timing {
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
        try (Event start = device.newEvent(); Event end = device.newEvent()) {
            for (int i = 0; i < repetitions; i++) {
                start.record(device.defaultStream());
                action.run();
                end.record(device.defaultStream());
                seconds[i] = end.elapsedMillisSince(start) / 1e3;
                if (beside != null) {
                    long t = System.nanoTime();
                    beside.run();
                    besideSeconds[i] = (System.nanoTime() - t) / 1e9;
                }
            }
        }
        return new double[] {Ceilings.median(seconds), Ceilings.median(besideSeconds)};
    }
}
