package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.device.Event;

/** Device-event timing (host time on cpu and emu): the median over repetitions after a warm-up. */
final class Timing {
    private Timing() {}

    static double medianSeconds(Device device, Runnable action, int repetitions) {
        action.run();
        double[] seconds = new double[repetitions];
        try (Event start = device.newEvent(); Event end = device.newEvent()) {
            for (int i = 0; i < repetitions; i++) {
                start.record(device.defaultStream());
                action.run();
                end.record(device.defaultStream());
                seconds[i] = end.elapsedMillisSince(start) / 1e3;
            }
        }
        return Ceilings.median(seconds);
    }
}
