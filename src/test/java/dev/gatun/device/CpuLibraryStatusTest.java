package dev.gatun.device;

import dev.gatun.bindings.gatun.CpuLibrary;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every entry point of the cpu library's binding turns a refusal of the native code into an
 * exception naming the function: the ops validate in Java first, so without this no test would
 * notice a binding that dropped a status. Each call passes an unknown dtype (or a negative size
 * where there is no dtype) and no memory, which the native code refuses before touching any.
 */
class CpuLibraryStatusTest {
    static final int BAD_DTYPE = 99;

    static Map<String, Executable> refusedCalls(CpuLibrary lib) {
        float[] noScaling = {0, 0, 0, 0};
        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("gatun_cpu_softmax", () -> lib.softmax(BAD_DTYPE, 0, 1, 0, 1, 1, 1));
        calls.put("gatun_cpu_rms_norm", () -> lib.rmsNorm(BAD_DTYPE, 0, 1, 0, 1e-5f, 0, 1, 1, 1));
        calls.put("gatun_cpu_row_sum", () -> lib.rowSum(BAD_DTYPE, 0, 1, 0, 1, 1));
        calls.put("gatun_cpu_copy", () -> lib.copy(0, 0, -1));
        calls.put("gatun_cpu_attention_prefill", () -> lib.attentionPrefill(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 64, 1, true, -1));
        calls.put("gatun_cpu_attention_decode", () -> lib.attentionDecode(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 64, 16, 1, 0, 1, -1));
        calls.put("gatun_cpu_rope", () -> lib.rope(BAD_DTYPE, 0, 0, 1, 1, 64, 64, 10000, noScaling, 0));
        calls.put("gatun_cpu_kv_append_rope", () -> lib.kvAppendRope(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 64, 16, 64, 10000, noScaling, 0));
        calls.put("gatun_cpu_attention_prefill_paged", () -> lib.attentionPrefillPaged(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 64, 16, 1, 1, true, -1));
        calls.put("gatun_cpu_sample", () -> lib.sample(0, 0, 0, 0, 0, 0, 0, -1, 10));
        calls.put("gatun_cpu_philox_uniform", () -> lib.philoxUniform(0, 0, 0, -1));
        calls.put("gatun_cpu_gemm", () -> lib.gemm(BAD_DTYPE, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1));
        calls.put("gatun_cpu_add", () -> lib.add(BAD_DTYPE, 0, 0, 0, 1));
        calls.put("gatun_cpu_silu_mul", () -> lib.siluMul(BAD_DTYPE, 0, 0, 1, 1));
        calls.put("gatun_cpu_gelu_tanh", () -> lib.geluTanh(BAD_DTYPE, 0, 0, 1));
        calls.put("gatun_cpu_embedding", () -> lib.embedding(BAD_DTYPE, 0, 0, 1, 0, 1, 1));
        calls.put("gatun_cpu_diffusion_step", () -> lib.diffusionStep(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, false));
        calls.put("gatun_cpu_cfg_rescale", () -> lib.cfgRescale(BAD_DTYPE, 0, 0, 0, 1, 1));
        calls.put("gatun_cpu_ada_layer_norm", () -> lib.adaLayerNorm(BAD_DTYPE, 0, 0, 0, 0, 1, 1, 1, 1, 1e-6f));
        calls.put("gatun_cpu_gated_residual", () -> lib.gatedResidual(BAD_DTYPE, 0, 0, 0, 0, 1, 1, 1, 1));
        calls.put("gatun_cpu_patchify", () -> lib.patchify(BAD_DTYPE, 0, 0, 1, 1, 1, 2, 2, 1, 2, 2, true));
        calls.put("gatun_cpu_timestep_embedding", () -> lib.timestepEmbedding(BAD_DTYPE, 0, 0, 1, 8, 10000));
        calls.put("gatun_cpu_video_attention", () -> lib.videoAttention(BAD_DTYPE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 64, 1, false));
        return calls;
    }

    @Test
    void everyBindingReportsARefusalByName() {
        for (CpuDevice cpu : TestDevices.cpus()) {
            CpuLibrary lib = cpu.library();
            Map<String, Executable> calls = refusedCalls(lib);
            assertEquals(23, calls.size());
            calls.forEach((function, call) -> {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, lib.isa() + ": " + function);
                assertTrue(e.getMessage().startsWith(function + " rejected its arguments (status "), e.getMessage());
            });
        }
    }

    @Test
    void queriesOfTheBuildAndTheMachine() {
        for (CpuDevice cpu : TestDevices.cpus()) {
            CpuLibrary lib = cpu.library();
            assertTrue(lib.isa().equals("x86-64-v3") || lib.isa().equals("avx512"), lib.isa());
            assertTrue(lib.path().getFileName().toString().contains(lib.isa().equals("avx512") ? "avx512" : "x86-64-v3"), lib.path().toString());
            if (lib.isa().equals("avx512")) assertTrue(lib.machineHasAvx512(), "the AVX-512 build is only loaded where the CPU has it");
            if (lib.machineHasAvx512Bf16()) assertTrue(lib.machineHasAvx512(), "BF16 is an AVX-512 extension");
            assertTrue(lib.threads() >= 1);
            assertTrue(cpu.description().contains(lib.threads() + " thread"), cpu.description());
        }
    }
}
