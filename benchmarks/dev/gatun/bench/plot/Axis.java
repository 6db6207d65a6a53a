package dev.gatun.bench.plot;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One chart axis: a linear or base-10 logarithmic map from data values to pixels between
 * {@code from} and {@code to}, with "nice" ticks (1, 2, 5 times a power of ten).
 */
final class Axis {
    final double min, max;
    final boolean log;

    private Axis(double min, double max, boolean log) {
        this.min = min;
        this.max = max;
        this.log = log;
    }

    /**
     * An axis covering {@code values} (NaN and, on a log axis, non-positive values are left out);
     * a linear axis starts at zero when every value is positive, so bars and rates are not exaggerated.
     */
    static Axis covering(double[] values, boolean log, boolean fromZero) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            if (!Double.isFinite(v) || (log && v <= 0)) continue;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (lo > hi) return new Axis(log ? 1 : 0, log ? 10 : 1, log); // nothing to show
        if (log) {
            double a = Math.pow(10, Math.floor(Math.log10(lo))), b = Math.pow(10, Math.ceil(Math.log10(hi)));
            return new Axis(a, b > a ? b : a * 10, true);
        }
        if (fromZero && lo > 0) lo = 0;
        if (hi == lo) hi = lo + (lo == 0 ? 1 : Math.abs(lo));
        double step = niceStep((hi - lo) / 5);
        return new Axis(Math.floor(lo / step) * step, Math.ceil(hi / step) * step, false);
    }

    /** The pixel of {@code v} on an axis drawn from pixel {@code from} (at min) to {@code to} (at max). */
    double pixel(double v, double from, double to) {
        double f = log ? (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) : (v - min) / (max - min);
        return from + f * (to - from);
    }

    boolean shows(double v) { return Double.isFinite(v) && (!log || v > 0); }

    /** Tick values: about five on a linear axis; each power of ten (and 2 and 5 times it when few decades) on a log axis. */
    List<Double> ticks() {
        List<Double> ticks = new ArrayList<>();
        if (log) {
            int lo = (int) Math.round(Math.log10(min)), hi = (int) Math.round(Math.log10(max));
            for (int e = lo; e <= hi; e++) {
                double p = Math.pow(10, e);
                ticks.add(p);
                if (hi - lo <= 3 && e < hi) {
                    ticks.add(2 * p);
                    ticks.add(5 * p);
                }
            }
        } else {
            double step = niceStep((max - min) / 5);
            for (double t = min; t <= max + step * 1e-6; t += step) ticks.add(Math.abs(t) < step * 1e-9 ? 0 : t);
        }
        return ticks;
    }

    /** A tick label: short, without trailing zeros, with k/M/G for large values. */
    static String label(double v) {
        double a = Math.abs(v);
        if (a >= 1e9) return trim(v / 1e9) + "G";
        if (a >= 1e6) return trim(v / 1e6) + "M";
        if (a >= 1e4) return trim(v / 1e3) + "k";
        return trim(v);
    }

    private static String trim(double v) {
        if (v == Math.rint(v)) return Long.toString((long) v);
        String s = String.format(Locale.ROOT, Math.abs(v) >= 1 ? "%.2f" : "%.3g", v);
        if (s.contains(".") && !s.contains("e")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s;
    }

    private static double niceStep(double raw) {
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }
}
