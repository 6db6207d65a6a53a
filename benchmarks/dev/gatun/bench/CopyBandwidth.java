package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The copy-bandwidth ceiling: a multi-threaded copy of 64 MiB, the size of the largest op input in
 * the table, so that ceiling and ops see the same cache level (these machines' L3 can hold it).
 */
record CopyBandwidth(double gigabytesPerSecond, String description) {
    private static final long BYTES = 64L << 20;

    static CopyBandwidth measure(CpuDevice cpu, int repetitions) {
        try (Tensor src = Tensor.empty(cpu, DType.F32, BYTES / 4); Tensor dst = Tensor.empty(cpu, DType.F32, BYTES / 4)) {
            src.fillBytes((byte) 1);
            dst.fillBytes((byte) 0);
            double[] seconds = new double[repetitions];
            cpu.library().copy(dst.dataAddress(), src.dataAddress(), BYTES); // warm-up: fault the pages in
            for (int i = 0; i < repetitions; i++) {
                long start = System.nanoTime();
                cpu.library().copy(dst.dataAddress(), src.dataAddress(), BYTES);
                seconds[i] = (System.nanoTime() - start) / 1e9;
            }
            return new CopyBandwidth(2.0 * BYTES / median(seconds) / 1e9,
                    "64 MiB, " + cpu.description());
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
