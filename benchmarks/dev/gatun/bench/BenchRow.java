package dev.gatun.bench;

/**
 * One measured row: the op's median time, its rate (GB/s moved or GFLOP/s), the ceiling that rate
 * is compared with (measured in the same run), and a peer's time on the same shape when one ran.
 * {@code size} is the work of one call in {@code sizeUnit} (MiB moved, GFLOP): the x axis of the
 * rate-versus-size plots, comparable across devices whose shapes differ.
 */
record BenchRow(String op, String device, String dtype, String shape, double size, String sizeUnit, double seconds, double rate, String rateUnit,
                double ceiling, String ceilingName, String peer, Double peerSeconds) {
    double percentOfCeiling() { return 100 * rate / ceiling; }

    /** The peer's rate on the same work, or NaN when no peer ran. */
    double peerRate() { return peerSeconds == null ? Double.NaN : rate * seconds / peerSeconds; }
}
