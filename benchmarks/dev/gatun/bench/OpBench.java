package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One row op's benchmark: its shapes per device, the bytes it must move, how it is run, and
 * whether its ceiling is read bandwidth (it only reads) or copy bandwidth (it reads and writes).
 */
record OpBench(String name, boolean readOnly, BytesMoved bytes, Runner runner) {
    interface BytesMoved { double of(long rows, long cols, DType dtype); }

    /** Returns the timed action for inputs it creates (and closes through {@code owned}). */
    interface Runner { Runnable prepare(Device device, DType dtype, long rows, long cols, List<Tensor> owned); }

    static List<OpBench> all() {
        return List.of(
                new OpBench("softmax", false, (r, c, t) -> 2.0 * r * c * t.byteSize(), (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor y = own(owned, Tensor.empty(device, dtype, rows, cols));
                    return () -> Ops.softmax(x, y);
                }),
                new OpBench("rmsnorm", false, (r, c, t) -> (2.0 * r * c + c) * t.byteSize(), (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor w = input(device, dtype, 1, cols, owned).reshape(cols);
                    owned.add(w);
                    Tensor y = own(owned, Tensor.empty(device, dtype, rows, cols));
                    return () -> Ops.rmsNorm(x, w, 1e-6f, y);
                }),
                new OpBench("rowsum", true, (r, c, t) -> (double) r * c * t.byteSize() + 4.0 * r, (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor y = own(owned, Tensor.empty(device, DType.F32, rows));
                    return () -> Ops.rowSum(x, y);
                }));
    }

    /** The op at each size of its sweep (rows of 4096 columns), in fp32 and bf16. */
    List<BenchRow> run(Device device, boolean quick, int repetitions, Ceilings ceilings) {
        // emu runs every CUDA thread as a fiber: a GPU-sized shape would take minutes
        long[] sweep = BenchMain.emulated(device) ? new long[] {32, 64} : quick ? new long[] {256, 1024} : new long[] {256, 1024, 4096};
        List<BenchRow> out = new ArrayList<>();
        for (long rows : sweep) out.addAll(run(device, rows, repetitions, ceilings));
        return out;
    }

    private List<BenchRow> run(Device device, long rows, int repetitions, Ceilings ceilings) {
        long cols = 4096;
        List<BenchRow> out = new ArrayList<>();
        for (DType dtype : List.of(DType.F32, DType.BF16)) {
            List<Tensor> owned = new ArrayList<>();
            try {
                Runnable action = runner.prepare(device, dtype, rows, cols, owned);
                double moved = bytes.of(rows, cols, dtype);
                Ceilings.Memory memory = readOnly ? Ceilings.Memory.READ : Ceilings.Memory.COPY;
                Ceilings.Measured m = ceilings.memoryBound(device, action, BenchMain.emulated(device) ? Math.min(5, repetitions) : repetitions, memory,
                        (long) moved, null);
                out.add(new BenchRow(name, device.kind().id(), dtype.id(), rows + "x" + cols, moved / (1 << 20), "MiB moved", m.seconds(), moved / m.seconds() / 1e9, "GB/s",
                        m.ceiling(), m.ceilingName(), null, null));
            } finally {
                owned.forEach(Tensor::close);
            }
        }
        return out;
    }

    private static Tensor input(Device device, DType dtype, long rows, long cols, List<Tensor> owned) {
        Random random = new Random(rows * 31 + cols);
        float[] values = new float[(int) (rows * cols)];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        return own(owned, Tensor.of(device, dtype, values, rows, cols));
    }

    private static Tensor own(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

}
