package dev.gatun.bench.jmh;

import dev.gatun.llm.engine.SchedulerBench;
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
 * The engine scheduler's CPU cost per step, without the model: choosing the batch, reserving KV
 * slots ({@code appendToken}, {@code admit}), building the batch description (tokens, positions,
 * slots, block tables), marking the step computed and appending a token per sequence (see
 * {@link SchedulerBench}). Steady-state continuous batching at {@code running} sequences: prompts of
 * 128..256 tokens, 512 tokens per sequence at most, finished requests replaced by new ones, 16-token
 * blocks, prefix caching on, no preemption. The target is well under a millisecond at 256. Run with
 * {@code java --enable-native-access=ALL-UNNAMED -cp 'target/gatun.jar:target/lib/*' org.openjdk.jmh.Main SchedulerStepJmh}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SchedulerStepJmh {
    @Param({"16", "64", "256", "1024"})
    public int running;

    private SchedulerBench bench;

    @Setup(Level.Trial)
    public void setUp() {
        bench = SchedulerBench.steadyState(running, 128, 512, 16, 42);
    }

    @Benchmark
    public int step() {
        return bench.step();
    }

    @TearDown(Level.Trial)
    public void check() {
        if (bench.preemptions() != 0) throw new IllegalStateException("the bench's KV pool was too small: " + bench.preemptions() + " preemptions");
        System.out.println("\n# running " + bench.running() + ", waiting " + bench.waiting() + " at the end");
    }
}
