package dev.gatun.bench;

/**
 * One measured row: the op's median time, its rate (GB/s moved or GFLOP/s), the ceiling that rate
 * is compared with (measured in the same run), and a peer's time on the same shape when one ran.
 */
record BenchRow(String op, String device, String dtype, String shape, double seconds, double rate, String rateUnit,
                double ceiling, String ceilingName, String peer, Double peerSeconds) {
    double percentOfCeiling() { return 100 * rate / ceiling; }
}
