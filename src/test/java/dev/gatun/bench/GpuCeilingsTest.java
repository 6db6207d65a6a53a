package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rows on the cuda device stand beside the GPU's own ceilings (kernels/peak.cuh, a device row sum
 * or copy), named for the units they measure. Over the driver shim the figures are the emulator's;
 * what is checked is that each probe runs on the device, alternates with the op and gives a rate.
 */
@Tag("cuda")
class GpuCeilingsTest {
    /** A stand-in op of a few milliseconds: the probes are what is under test. */
    private static final Runnable OP = () -> {
        try {
            Thread.sleep(3);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    };

    private Device cuda;

    @BeforeEach
    void open() {
        CudaShim.install(); // no-op on a real GPU
        cuda = Devices.get("cuda");
    }

    @Test
    void computeAndMemoryRowsOnCudaUseTheGpuCeilings() {
        Ceilings ceilings = Ceilings.measure((CpuDevice) Devices.get("cpu"), 3, 2); // 2 blocks: the shim emulates every thread
        Ceilings.Measured fma = ceilings.computeBound(cuda, DType.F32, OP, 3, null);
        Ceilings.Measured mma = ceilings.computeBound(cuda, DType.BF16, OP, 3, null);
        Ceilings.Measured read = ceilings.memoryBound(cuda, OP, 3, Ceilings.Memory.READ, 1 << 20, null);
        Ceilings.Measured copy = ceilings.memoryBound(cuda, OP, 3, Ceilings.Memory.COPY, 1 << 20, null);
        assertEquals("FMA peak", fma.ceilingName());
        assertEquals("MMA peak", mma.ceilingName());
        assertEquals("read BW", read.ceilingName());
        assertEquals("copy BW", copy.ceilingName());
        for (Ceilings.Measured m : new Ceilings.Measured[] {fma, mma, read, copy}) {
            assertTrue(m.ceiling() > 0 && Double.isFinite(m.ceiling()), m.toString());
            assertTrue(m.seconds() >= 0.003, "the op's own time: " + m);
        }
    }

    @Test
    void gpuRowsComeInFp32AndBf16BesideTheirUnitsPeaks() {
        Ceilings ceilings = Ceilings.measure((CpuDevice) Devices.get("cpu"), 1, 2);
        List<BenchRow> rows = AttentionBench.run(cuda, Set.of("linear", "prefill"), true, 1, ceilings);
        // (linear, prefill) x (fp32, bf16) x 2 sizes (emulated shapes), and a chunked prompt per dtype
        assertEquals(10, rows.size(), rows.toString());
        for (BenchRow r : rows) {
            assertEquals("cuda", r.device());
            assertEquals(r.dtype().equals("bf16") ? "MMA peak" : "FMA peak", r.ceilingName(), r.toString());
            assertTrue(r.seconds() > 0 && r.ceiling() > 0 && Double.isFinite(r.rate()), r.toString());
        }
        assertEquals(5, rows.stream().filter(r -> r.dtype().equals("bf16")).count());
        assertEquals(2, rows.stream().filter(r -> r.op().equals("chunked")).count());
    }
}
