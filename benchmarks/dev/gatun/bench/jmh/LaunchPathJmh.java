package dev.gatun.bench.jmh;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The Java side of an op call: validation, dispatch, argument packing and the FFM downcall, on a
 * one-element row so the kernel itself costs next to nothing. Run with
 * {@code java --enable-native-access=ALL-UNNAMED -cp target/gatun.jar:target/lib/* org.openjdk.jmh.Main LaunchPathJmh}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class LaunchPathJmh {
    @Param({"cpu", "emu"})
    public String device;

    private Tensor x, y;

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Devices.get(device);
        x = Tensor.of(d, DType.F32, new float[] {1f}, 1, 1);
        y = Tensor.empty(d, DType.F32, 1, 1);
    }

    @Benchmark
    public void softmaxOneElement() {
        Ops.softmax(x, y);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        y.close();
    }
}
