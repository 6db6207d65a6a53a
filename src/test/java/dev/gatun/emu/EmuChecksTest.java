package dev.gatun.emu;

import dev.gatun.bindings.gatun.EmuLaunchException;
import dev.gatun.device.Devices;
import dev.gatun.device.Dim3;
import dev.gatun.device.EmuDevice;
import dev.gatun.device.Kernel;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cuemu's own checks, each shown on a small deliberately wrong kernel (src/test/kernels): the
 * error comes back as a Java exception naming the kernel and what went wrong, and the JVM and
 * the emulator keep working afterwards.
 */
@Tag("emu")
class EmuChecksTest {
    private final EmuDevice emu = (EmuDevice) Devices.get("emu");

    private EmuLaunchException failure(String kernel, int threads, Object... args) {
        return assertThrows(EmuLaunchException.class,
                () -> emu.launch(new Kernel("bad_kernels", kernel), Dim3.of(1), Dim3.of(threads), 0, emu.defaultStream(), args));
    }

    /** One block of {@code threads} fails, its message names each of {@code parts}, and the emulator still works after. */
    private void assertReported(String kernel, int threads, String... parts) {
        try (Tensor out = Tensor.empty(emu, DType.F32, threads)) {
            EmuLaunchException e = failure(kernel, threads, out);
            for (String part : parts) assertTrue(e.getMessage().contains(part), "should name '" + part + "': " + e.getMessage());
        }
        stillWorks();
    }

    @Test
    void divergentSyncthreadsIsReported() {
        assertReported("test_divergent_syncthreads", 64, "test_divergent_syncthreads", "__syncthreads", "bad_kernels.cu");
    }

    @Test
    void barrierAfterOtherThreadsExitedIsReported() {
        assertReported("test_barrier_after_exit", 32, "test_barrier_after_exit");
    }

    @Test
    void warpMaskMismatchIsReported() {
        assertReported("test_shfl_mask_mismatch", 32, "mask");
    }

    @Test
    void trapIsReported() {
        assertReported("test_trap", 32, "trap");
    }

    @Test
    void badLaunchesAreRefusedInJava() {
        try (Tensor out = Tensor.empty(emu, DType.F32, 32)) {
            Kernel trap = new Kernel("bad_kernels", "test_trap");
            assertThrows(IllegalArgumentException.class, () -> emu.launch(trap, Dim3.of(1), Dim3.of(32), 0, emu.defaultStream()),
                    "missing argument");
            assertThrows(IllegalArgumentException.class, () -> emu.launch(trap, Dim3.of(1), Dim3.of(32), 0, emu.defaultStream(), 3),
                    "int where a pointer is expected");
            assertThrows(IllegalArgumentException.class, () -> emu.launch(new Kernel("x", "no_such_kernel"), Dim3.of(1), Dim3.of(32), 0,
                    emu.defaultStream(), out));
            assertThrows(IllegalArgumentException.class, () -> Dim3.of(0));
            EmuLaunchException tooBig = failure("test_with_barrier", 2048, out, out, 32L);
            assertTrue(tooBig.getMessage().contains("1024") || tooBig.getMessage().contains("block"), tooBig.getMessage());
        }
    }

    @Test
    void shuffleOfALaneOutsideTheMaskIsReported() {
        assertReported("test_shfl_outside_mask", 32, "reads lane 20, which is not in the mask 0x0000ffff");
    }

    @Test
    void aMaskWithoutTheCallerIsReported() {
        assertReported("test_shfl_mask_without_self", 32, "excludes itself");
    }

    @Test
    void gridsAndBlocksBeyondCudasLimitsAreRefused() {
        Kernel trap = new Kernel("bad_kernels", "test_trap");
        try (Tensor out = Tensor.empty(emu, DType.F32, 64)) {
            var grid = assertThrows(EmuLaunchException.class, () -> emu.launch(trap, new Dim3(1, 65536, 1), Dim3.of(32), 0, emu.defaultStream(), out));
            assertTrue(grid.getMessage().contains("invalid grid (1,65536,1)"), grid.getMessage());
            var block = assertThrows(EmuLaunchException.class, () -> emu.launch(trap, Dim3.of(1), new Dim3(1, 1, 65), 0, emu.defaultStream(), out));
            assertTrue(block.getMessage().contains("invalid block (1,1,65)"), block.getMessage());
        }
        stillWorks();
    }

    /**
     * The four shuffles against CUDA's lane rules for every width: idx reads lane (srcLane mod
     * width) of the caller's segment; up and down read within the segment, else the caller's own
     * value; xor reads lane ^ laneMask unless that lies in a later segment (an earlier one is
     * allowed, as PTX's shfl.bfly clamps only from above).
     */
    @Test
    void shufflesFollowCudasLaneRules() {
        try (Tensor out = Tensor.empty(emu, DType.I32, 4 * 32)) {
            for (int width : new int[] {32, 16, 8, 4, 2, 1})
                for (int arg : new int[] {0, 1, 3, 4, 7, 8, 13, 16, 31}) {
                    emu.launch(new Kernel("bad_kernels", "test_shuffles"), Dim3.of(1), Dim3.of(32), 0, emu.defaultStream(), out, width, arg);
                    int[] got = out.toIntArray();
                    for (int lane = 0; lane < 32; lane++) {
                        int seg = lane & ~(width - 1), last = seg + width - 1;
                        int[] src = {seg + (arg & (width - 1)), lane - seg >= arg ? lane - arg : lane,
                                lane + arg <= last ? lane + arg : lane, (lane ^ arg) <= last ? lane ^ arg : lane};
                        for (int k = 0; k < 4; k++)
                            assertTrue(got[4 * lane + k] == 10 * src[k] + 1, new String[] {"idx", "up", "down", "xor"}[k] + " width " + width
                                    + " arg " + arg + " lane " + lane + ": got " + got[4 * lane + k] + ", expected lane " + src[k] + "'s value");
                    }
                }
        }
    }

    /** Votes and warp reductions over full and partial masks against their definitions (unsigned and signed min/max apart). */
    @Test
    void votesAndReductionsOverTheirMask() {
        try (Tensor out = Tensor.empty(emu, DType.I32, 11 * 32)) {
            for (int mask : new int[] {0xffffffff, 0x0000ffff, 0xa5a5a5a5, 0x80000001, 0x00000020}) {
                emu.launch(new Kernel("bad_kernels", "test_votes"), Dim3.of(1), Dim3.of(32), 0, emu.defaultStream(), out, mask);
                int[] got = out.toIntArray();
                int ballot = 0, any = 0, all = 1, add = 0, minS = Integer.MAX_VALUE, maxS = Integer.MIN_VALUE, and = -1, or = 0, xor = 0;
                int minU = -1, maxU = 0;  // as unsigned: all ones is the largest
                for (int lane = 0; lane < 32; lane++) {
                    if ((mask >>> lane & 1) == 0) continue;
                    int x = (lane * 37 + 11) % 50 - 20;
                    if (lane % 3 == 0) ballot |= 1 << lane;
                    if (lane == 5) any = 1;
                    if (lane >= 24) all = 0;
                    add += x;
                    minS = Math.min(minS, x);
                    maxS = Math.max(maxS, x);
                    minU = Integer.compareUnsigned(x, minU) < 0 ? x : minU;
                    maxU = Integer.compareUnsigned(x, maxU) > 0 ? x : maxU;
                    and &= x + 100;
                    or |= x + 100;
                    xor ^= x + 100;
                }
                int[] expected = {ballot, any, all, add, minU, minS, maxS, maxU, and, or, xor};
                for (int lane = 0; lane < 32; lane++)
                    for (int k = 0; k < 11; k++)
                        assertTrue(got[11 * lane + k] == ((mask >>> lane & 1) == 0 ? -1 : expected[k]),
                                "mask 0x" + Integer.toHexString(mask) + " lane " + lane + " result " + k + ": got " + got[11 * lane + k]
                                        + ", expected " + expected[k]);
            }
        }
    }

    /** The correct twin of the racy kernel: the barrier makes every thread see its neighbour's write. */
    @Test
    void withBarrierComputesTheRotation() {
        int threads = 64;
        float[] in = new float[threads];
        for (int i = 0; i < threads; i++) in[i] = i * 0.5f + 1;
        try (Tensor input = Tensor.of(emu, DType.F32, in, threads); Tensor out = Tensor.empty(emu, DType.F32, threads)) {
            emu.launch(new Kernel("bad_kernels", "test_with_barrier"), Dim3.of(1), Dim3.of(threads), 0, emu.defaultStream(),
                    input, out, (long) threads);
            float[] expected = new float[threads];
            for (int i = 0; i < threads; i++) expected[i] = in[(i + 1) % threads];
            assertArrayEquals(expected, out.toFloatArray());
        }
    }

    /** The out-of-bounds kernels are ordinary with in-bounds arguments; SanitizerReportsTest gives them bad ones. */
    @Test
    void outOfBoundsKernelsAreCorrectWithinBounds() {
        int threads = 32;
        float[] in = new float[threads + 1];
        for (int i = 0; i < in.length; i++) in[i] = 3 * i - 7;
        try (Tensor input = Tensor.of(emu, DType.F32, in, threads + 1); Tensor out = Tensor.empty(emu, DType.F32, threads)) {
            emu.launch(new Kernel("bad_kernels", "test_oob_shared"), Dim3.of(1), Dim3.of(threads), 0, emu.defaultStream(), out, 63);
            float[] shared = out.toFloatArray();
            for (float v : shared) assertTrue(v == 63f, "s[63] holds 63, got " + v);
            // in has threads + 1 elements, so reading in[i + 1] for i < threads stays inside
            emu.launch(new Kernel("bad_kernels", "test_oob_global"), Dim3.of(1), Dim3.of(threads), 0, emu.defaultStream(),
                    input, out, (long) threads);
            float[] expected = new float[threads];
            for (int i = 0; i < threads; i++) expected[i] = in[i + 1];
            assertArrayEquals(expected, out.toFloatArray());
        }
    }

    private void stillWorks() {
        withBarrierComputesTheRotation();
    }
}
