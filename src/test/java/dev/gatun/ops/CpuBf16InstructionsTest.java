package dev.gatun.ops;

import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The CPU builds' bf16 kernels without the avx512_bf16 instructions as well: the AVX-512 build widens
 * rows itself on AVX-512 CPUs that lack them (and on Intel's, which have them), a path the kernel
 * tests do not reach on an AMD CPU that has them (there decode and the flash tiles multiply bf16
 * pairs with vdpbf16ps).
 */
class CpuBf16InstructionsTest {
    @Test
    void bf16DecodeWithoutTheBf16Instructions() {
        withoutBf16Instructions(cpu -> {
            for (PagedAttentionKernelTest.Heads h : PagedAttentionKernelTest.heads())
                PagedAttentionKernelTest.decode(cpu, DType.BF16, h, 16);
        });
    }

    @Test
    void bf16PrefillWithoutTheBf16Instructions() {
        withoutBf16Instructions(cpu -> {
            for (PrefillKernelTest.Case c : PrefillKernelTest.cases())
                new PrefillKernelTest().prefillMatchesTheReference(cpu, DType.BF16, c);
        });
    }

    private static void withoutBf16Instructions(Consumer<CpuDevice> test) {
        for (CpuDevice cpu : TestDevices.cpus()) {
            boolean had = cpu.library().useAvx512Bf16(true);
            assertFalse(cpu.library().useAvx512Bf16(false));
            try {
                test.accept(cpu);
            } finally {
                assertEquals(had, cpu.library().useAvx512Bf16(had));
            }
        }
    }
}
