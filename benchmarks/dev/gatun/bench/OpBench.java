package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.device.Event;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** One op's benchmark: its shapes per device, the bytes it must move, and how it is run. */
record OpBench(String name, BytesMoved bytes, Runner runner) {
    /** A measured row of the table. */
    record Row(String op, String device, String dtype, String shape, double seconds, double bytesMoved) {
        double gigabytesPerSecond() { return bytesMoved / seconds / 1e9; }
    }

    interface BytesMoved { double of(long rows, long cols, DType dtype); }

    /** Returns the timed action for inputs it creates (and closes through {@code owned}). */
    interface Runner { Runnable prepare(Device device, DType dtype, long rows, long cols, List<Tensor> owned); }

    static List<OpBench> all() {
        return List.of(
                new OpBench("softmax", (r, c, t) -> 2.0 * r * c * t.byteSize(), (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor y = own(owned, Tensor.empty(device, dtype, rows, cols));
                    return () -> Ops.softmax(x, y);
                }),
                new OpBench("rmsnorm", (r, c, t) -> (2.0 * r * c + c) * t.byteSize(), (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor w = input(device, dtype, 1, cols, owned).reshape(cols);
                    owned.add(w);
                    Tensor y = own(owned, Tensor.empty(device, dtype, rows, cols));
                    return () -> Ops.rmsNorm(x, w, 1e-6f, y);
                }),
                new OpBench("rowsum", (r, c, t) -> (double) r * c * t.byteSize() + 4.0 * r, (device, dtype, rows, cols, owned) -> {
                    Tensor x = input(device, dtype, rows, cols, owned);
                    Tensor y = own(owned, Tensor.empty(device, DType.F32, rows));
                    return () -> Ops.rowSum(x, y);
                }));
    }

    List<Row> run(Device device, boolean quick, int repetitions) {
        // emu runs every CUDA thread as a fiber: a GPU-sized shape would take minutes
        long rows = device.kind() == DeviceKind.EMU ? 64 : quick ? 1024 : 4096;
        long cols = 4096;
        List<Row> out = new ArrayList<>();
        for (DType dtype : List.of(DType.F32, DType.BF16)) {
            List<Tensor> owned = new ArrayList<>();
            try {
                Runnable action = runner.prepare(device, dtype, rows, cols, owned);
                double seconds = time(device, action, device.kind() == DeviceKind.EMU ? Math.min(5, repetitions) : repetitions);
                out.add(new Row(name, device.kind().id(), dtype.id(), rows + "x" + cols, seconds, bytes.of(rows, cols, dtype)));
            } finally {
                owned.forEach(Tensor::close);
            }
        }
        return out;
    }

    /** Median over repetitions of device-event time (host time on cpu and emu), after a warm-up. */
    private static double time(Device device, Runnable action, int repetitions) {
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
        return CopyBandwidth.median(seconds);
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
