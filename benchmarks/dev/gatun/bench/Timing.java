package dev.gatun.bench;

import java.util.Arrays;
import java.util.List;

import dev.gatun.device.Device;
import dev.gatun.device.Event;

/**
 * Device-event timing (host time on cpu and emu): the median over repetitions after a warm-up.
 * At least the requested repetitions, and more until the op has run {@link #MIN_SECONDS}: 15
 * repetitions of a 1 ms op sample 15 ms, within one phase of the host's memory speed, and left
 * runs of the same build 30% apart (measured on the 2-core VM of the README's figures).
 * What a row is compared with (its ceiling, the peer) runs once after each of the op's
 * repetitions: on these VMs the FMA rate and the memory bandwidth move by tens of percent within
 * seconds, and torch's time for one shape by 1.7x between runs a minute apart, so figures taken
 * apart from the op compare different moments of the machine.
 */
final class Timing {
    /** Least time measured per op. */
    static final double MIN_SECONDS = 0.3;
    /**
     * Untimed runs first, until this long or {@link #WARM_UP_RUNS}: an op's Java path runs
     * interpreted for its first ~100-200 calls (the launch path then cost ~0.15 ms a call) while
     * the JIT's compiler threads share the cores; s512 prefill ran ~30% slower over its first
     * 0.4 s (this 2-core VM).
     */
    static final double WARM_UP_SECONDS = 0.5;
    static final int WARM_UP_RUNS = 200;
    private static final int MAX_REPETITIONS = 20_000;

    /** One run of something measured beside an op; returns its figure for that run (seconds, GFLOP/s). */
    interface Probe {
        double measure();
    }

    private Timing() {}

    /** A probe that runs {@code action} and gives its host seconds. */
    static Probe hostSeconds(Runnable action) {
        return () -> {
            long t = System.nanoTime();
            action.run();
            return (System.nanoTime() - t) / 1e9;
        };
    }

    /** A probe that runs {@code action} on {@code device}'s default stream and gives its seconds by the device's events. */
    static Probe deviceSeconds(Device device, Runnable action) {
        return () -> {
            try (Event start = device.newEvent(); Event end = device.newEvent()) {
                start.record(device.defaultStream());
                action.run();
                end.record(device.defaultStream());
                return end.elapsedMillisSince(start) / 1e3;
            }
        };
    }

    /** A probe that gives {@code work} (FLOPs or bytes) per second of one run of {@code action} on {@code device}, in billions. */
    static Probe deviceRate(Device device, Runnable action, double work) {
        Probe seconds = deviceSeconds(device, action);
        return () -> work / seconds.measure() / 1e9;
    }

    /**
     * The median seconds of {@code action}, then the median figure of each probe, the probes
     * run once each after every repetition of the action (after the action's warm-up and two
     * warm-up runs of each probe). With
     * {@code rewarm}, each repetition runs the action once untimed first: probes that take the
     * cores with their own threads (the peer) leave the pool's workers asleep on halted vCPUs,
     * and waking them cost short runs up to a few hundred microseconds here.
     */
    static double[] alternated(Device device, Runnable action, List<Probe> probes, int repetitions, boolean rewarm) {
        long warmUpStart = System.nanoTime();
        for (int i = 0; i < WARM_UP_RUNS && (i == 0 || System.nanoTime() - warmUpStart < WARM_UP_SECONDS * 1e9); i++) action.run();
        for (Probe p : probes) for (int i = 0; i < 2; i++) p.measure(); // fault the pages in, settle the clocks
        double[][] figures = new double[1 + probes.size()][repetitions];
        Probe timed = deviceSeconds(device, action);
        int n = 0;
        double total = 0;
        for (; n < repetitions || (total < MIN_SECONDS && n < MAX_REPETITIONS); n++) {
            if (n == figures[0].length) for (int i = 0; i < figures.length; i++) figures[i] = Arrays.copyOf(figures[i], 2 * n);
            if (rewarm) action.run();
            figures[0][n] = timed.measure();
            total += figures[0][n];
            for (int i = 0; i < probes.size(); i++) figures[1 + i][n] = probes.get(i).measure();
        }
        double[] medians = new double[figures.length];
        for (int i = 0; i < figures.length; i++) medians[i] = Ceilings.median(Arrays.copyOf(figures[i], n));
        return medians;
    }
}
