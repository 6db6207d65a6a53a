package dev.gatun.ops;

import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.gatun.testing.AttentionReference.toFloat;

/**
 * Long sequences on the cpu device (both builds), fp32, fp16 and bf16, against the fp64 reference:
 * a causal prefill of 2048 queries (8 query heads over 2 KV heads, d128) packed with a short one,
 * from contiguous K/V and from a shuffled paged cache, and decode over 2100 cached tokens. At this
 * length a prefill thread runs many work items in turn (the next item's rows prefetched during the
 * last key block of the one before) and the output (4-8 MiB) is at least the size of the threads'
 * L2s on 2-core machines, so its rows go out with streaming stores. PrefillKernelTest and
 * PagedAttentionKernelTest cover every device at the shorter lengths (emu, which runs a kernel's
 * threads as CPU fibers, keeps to those for CI time).
 */
class CpuLongSequenceTest {
    private static final List<DType> DTYPES = List.of(DType.F32, DType.F16, DType.BF16);

    @Test
    void longPrefillMatchesTheReference() {
        List<CpuDevice> cpus = TestDevices.cpus();
        PrefillKernelTest.Case c = new PrefillKernelTest.Case(8, 2, 128, true, -1);
        int[] cu = {0, 2048, 2048 + 33};
        int qRow = c.qHeads() * c.headDim(), kRow = c.kvHeads() * c.headDim();
        float scale = (float) (1 / Math.sqrt(c.headDim()));
        for (DType dtype : DTYPES) {
            Random random = Seeds.random("long prefill " + dtype);
            float[] q = Reference.rounded(Seeds.gaussian(random, cu[2] * qRow, 1), dtype);
            float[] k = Reference.rounded(Seeds.gaussian(random, cu[2] * kRow, 1), dtype);
            float[] v = Reference.rounded(Seeds.gaussian(random, cu[2] * kRow, 1), dtype);
            double[][] ref = PrefillKernelTest.reference(dtype, c, q, k, v, cu, cu, scale);
            float[] naive = toFloat(ref[1]);
            for (CpuDevice cpu : cpus) {
                String what = "long prefill " + cpu.description() + " " + dtype;
                float[][] result = PrefillKernelTest.run(cpu, dtype, c, q, k, v, cu, cu, scale);
                Numerics.assertClose(what, dtype, result[0], ref[0], naive);
                Numerics.assertClose(what + " lse", DType.F32, result[1], ref[2], null);
                for (int blockSize : TestDevices.kvBlockSizes(cpu)) {
                    float[][] paged = PrefillKernelTest.runPaged(cpu, dtype, c, q, k, v, cu, cu, scale, blockSize, random);
                    Numerics.assertClose(what + " paged, block " + blockSize, dtype, paged[0], ref[0], naive);
                    Numerics.assertClose(what + " paged lse", DType.F32, paged[1], ref[2], null);
                }
            }
        }
    }

    @Test
    void longDecodeMatchesTheReference() {
        for (CpuDevice cpu : TestDevices.cpus())
            for (DType dtype : DTYPES)
                for (int blockSize : TestDevices.kvBlockSizes(cpu))
                    PagedAttentionKernelTest.decode(cpu, dtype, new PagedAttentionKernelTest.Heads(8, 2, 128), blockSize, new int[] {700, 1, 2100});
    }
}
