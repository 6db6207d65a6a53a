package dev.gatun.bindings.gatun;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcalls into the CPU device's kernels (native/cpu/gatun_cpu.h). Pointers travel as {@code long}
 * addresses (LP64: the same register class as a pointer), so the hot path allocates nothing. The
 * caller has validated shapes; a nonzero status is the library's last guard.
 */
public final class CpuLibrary {
    /** dtype codes of gatun_cpu.h. */
    public static final int F32 = 0, F16 = 1, BF16 = 2;

    private static final Linker LINKER = Linker.nativeLinker();
    private final Path path;
    private final MethodHandle hasAvx512, hasAvx512Bf16, useAvx512Bf16, isa, setThreads, threads,
            softmax, rmsNorm, rowSum, copy, prefill, decode, rope, kvAppendRope, fmaPeak,
            bf16DotPeak, add, siluMul, geluTanh, embedding, prefillPaged, sample, philoxUniform, gemm;
    private final MethodHandle diffusionStep, cfgRescale;
    private final MethodHandle adaLayerNorm, gatedResidual, patchify, timestepEmbedding;
    private final MethodHandle videoAttention;

    private CpuLibrary(Path path) {
        this.path = path;
        SymbolLookup lib = SymbolLookup.libraryLookup(path, Arena.global());
        hasAvx512 = handle(lib, "gatun_cpu_has_avx512", FunctionDescriptor.of(JAVA_INT));
        hasAvx512Bf16 = handle(lib, "gatun_cpu_has_avx512_bf16", FunctionDescriptor.of(JAVA_INT));
        useAvx512Bf16 = handle(lib, "gatun_cpu_use_avx512_bf16", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        isa = handle(lib, "gatun_cpu_isa", FunctionDescriptor.of(ADDRESS));
        setThreads = handle(lib, "gatun_cpu_set_threads", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        threads = handle(lib, "gatun_cpu_threads", FunctionDescriptor.of(JAVA_INT));
        softmax = handle(lib, "gatun_cpu_softmax", FunctionDescriptor.of(JAVA_INT,
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        rmsNorm = handle(lib, "gatun_cpu_rms_norm", FunctionDescriptor.of(JAVA_INT,
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        rowSum = handle(lib, "gatun_cpu_row_sum", FunctionDescriptor.of(JAVA_INT,
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        copy = handle(lib, "gatun_cpu_copy", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        prefill = handle(lib, "gatun_cpu_attention_prefill", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_INT));
        decode = handle(lib, "gatun_cpu_attention_decode", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT));
        rope = handle(lib, "gatun_cpu_rope", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_INT));
        kvAppendRope = handle(lib, "gatun_cpu_kv_append_rope", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT,
                JAVA_FLOAT, JAVA_INT));
        fmaPeak = handle(lib, "gatun_cpu_fma_peak_gflops", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_LONG));
        bf16DotPeak = handle(lib, "gatun_cpu_bf16_dot_peak_gflops", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_LONG));
        prefillPaged = handle(lib, "gatun_cpu_attention_prefill_paged", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_INT));
        sample = handle(lib, "gatun_cpu_sample", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT));
        philoxUniform = handle(lib, "gatun_cpu_philox_uniform", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        gemm = handle(lib, "gatun_cpu_gemm", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        add = handle(lib, "gatun_cpu_add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        siluMul = handle(lib, "gatun_cpu_silu_mul", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        geluTanh = handle(lib, "gatun_cpu_gelu_tanh", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        embedding = handle(lib, "gatun_cpu_embedding", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG));
        diffusionStep = handle(lib, "gatun_cpu_diffusion_step", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
        cfgRescale = handle(lib, "gatun_cpu_cfg_rescale", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG));
        adaLayerNorm = handle(lib, "gatun_cpu_ada_layer_norm", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT));
        gatedResidual = handle(lib, "gatun_cpu_gated_residual", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        patchify = handle(lib, "gatun_cpu_patchify", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
        timestepEmbedding = handle(lib, "gatun_cpu_timestep_embedding", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT));
        videoAttention = handle(lib, "gatun_cpu_video_attention", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT));
    }

    /** Loads the library at {@code path} (the x86-64-v3 or the AVX-512 build). */
    public static CpuLibrary open(Path path) { return new CpuLibrary(path); }

    public Path path() { return path; }

    /** Whether this machine's CPU can run the AVX-512 build (cpuid, at run time). */
    public boolean machineHasAvx512() { return call(() -> (int) hasAvx512.invokeExact()) != 0; }

    public boolean machineHasAvx512Bf16() { return call(() -> (int) hasAvx512Bf16.invokeExact()) != 0; }

    /**
     * Turns this build's use of the avx512_bf16 instructions on (only where the CPU has them) or off,
     * so that tests also cover the kernels' paths for AVX-512 CPUs without them; not while kernels
     * run. Returns whether they are in use now (never in the x86-64-v3 build).
     */
    public boolean useAvx512Bf16(boolean use) { return call(() -> (int) useAvx512Bf16.invokeExact(use ? 1 : 0)) != 0; }

    /** The ISA this build was compiled for: "x86-64-v3" or "avx512". */
    public String isa() {
        MemorySegment s = call(() -> (MemorySegment) isa.invokeExact());
        return s.reinterpret(64).getString(0);
    }

    public int setThreads(int n) { return call(() -> (int) setThreads.invokeExact(n)); }

    public int threads() { return call(() -> (int) threads.invokeExact()); }

    public void softmax(int dtype, long x, long xStride, long y, long yStride, long rows, long cols) {
        check("gatun_cpu_softmax", call(() -> (int) softmax.invokeExact(dtype, x, xStride, y, yStride, rows, cols)));
    }

    public void rmsNorm(int dtype, long x, long xStride, long weight, float eps, long y, long yStride,
                        long rows, long cols) {
        check("gatun_cpu_rms_norm", call(() ->
                (int) rmsNorm.invokeExact(dtype, x, xStride, weight, eps, y, yStride, rows, cols)));
    }

    public void rowSum(int dtype, long x, long xStride, long out, long rows, long cols) {
        check("gatun_cpu_row_sum", call(() -> (int) rowSum.invokeExact(dtype, x, xStride, out, rows, cols)));
    }

    /** Multi-threaded copy; the benchmark's copy-bandwidth ceiling. */
    public void copy(long dst, long src, long bytes) {
        check("gatun_cpu_copy", call(() -> (int) copy.invokeExact(dst, src, bytes)));
    }

    /** Flash prefill over a varlen packed batch (gatun_cpu.h has the layouts). */
    public void attentionPrefill(int dtype, long q, long k, long v, long out, long lse, long cuSeqlensQ, long cuSeqlensK,
                                 int batch, int qHeads, int kvHeads, int headDim, float scale, boolean causal, int windowLeft) {
        check("gatun_cpu_attention_prefill", call(() -> (int) prefill.invokeExact(dtype, q, k, v, out, lse, cuSeqlensQ, cuSeqlensK,
                batch, qHeads, kvHeads, headDim, scale, causal ? 1 : 0, windowLeft)));
    }

    /** Paged decode, split-KV with position-fixed splits of {@code splitSize} keys. */
    public void attentionDecode(int dtype, long q, long kCache, long vCache, long blockTables, long seqLens, long out, long lse,
                                int batch, int qHeads, int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq,
                                int splitSize, float scale, int windowLeft) {
        check("gatun_cpu_attention_decode", call(() -> (int) decode.invokeExact(dtype, q, kCache, vCache, blockTables, seqLens,
                out, lse, batch, qHeads, kvHeads, headDim, blockSize, maxBlocksPerSeq, splitSize, scale, windowLeft)));
    }

    /** RoPE with theta and rope_scaling {factor, low_freq_factor, high_freq_factor, original_max_positions} (gatun_cpu.h). */
    public void rope(int dtype, long x, long positions, int tokens, int heads, int headDim, int rotaryDim, float theta,
                     float[] scaling, int style) {
        check("gatun_cpu_rope", call(() -> (int) rope.invokeExact(dtype, x, positions, tokens, heads, headDim, rotaryDim, theta,
                scaling[0], scaling[1], scaling[2], scaling[3], style)));
    }

    public void kvAppendRope(int dtype, long q, long k, long v, long kCache, long vCache, long slotMapping, long positions,
                             int tokens, int qHeads, int kvHeads, int headDim, int blockSize, int rotaryDim, float theta,
                             float[] scaling, int style) {
        check("gatun_cpu_kv_append_rope", call(() -> (int) kvAppendRope.invokeExact(dtype, q, k, v, kCache, vCache, slotMapping,
                positions, tokens, qHeads, kvHeads, headDim, blockSize, rotaryDim, theta, scaling[0], scaling[1], scaling[2],
                scaling[3], style)));
    }

    /** Chunked prefill whose keys and values are read from the paged cache through block tables. */
    public void attentionPrefillPaged(int dtype, long q, long kCache, long vCache, long out, long lse, long cuSeqlensQ,
                                      long blockTables, long seqLens, int batch, int qHeads, int kvHeads, int headDim,
                                      int blockSize, int maxBlocksPerSeq, float scale, boolean causal, int windowLeft) {
        check("gatun_cpu_attention_prefill_paged", call(() -> (int) prefillPaged.invokeExact(dtype, q, kCache, vCache, out, lse,
                cuSeqlensQ, blockTables, seqLens, batch, qHeads, kvHeads, headDim, blockSize, maxBlocksPerSeq, scale,
                causal ? 1 : 0, windowLeft)));
    }

    /** One token per row of fp32 logits (kernels/sampling.cuh defines the algorithm exactly). */
    public void sample(long logits, long tokens, long temperature, long topK, long topP, long seeds, long steps, int batch, int vocab) {
        check("gatun_cpu_sample", call(() -> (int) sample.invokeExact(logits, tokens, temperature, topK, topP, seeds, steps, batch, vocab)));
    }

    /** n Philox4x32-10 uniforms from counters step, step+1, ... under key seed. */
    public void philoxUniform(long out, long seed, long step, long n) {
        check("gatun_cpu_philox_uniform", call(() -> (int) philoxUniform.invokeExact(out, seed, step, n)));
    }

    /** y [m, n] = x [m, k] · w [n, k]ᵀ (+ bias [n] unless 0), row-major with the given leading dimensions. */
    public void gemm(int dtype, long x, long ldx, long w, long ldw, long bias, long y, long ldy, long m, long n, long k) {
        check("gatun_cpu_gemm", call(() -> (int) gemm.invokeExact(dtype, x, ldx, w, ldw, bias, y, ldy, m, n, k)));
    }

    /** y = a + b over n contiguous elements. */
    public void add(int dtype, long a, long b, long y, long n) {
        check("gatun_cpu_add", call(() -> (int) add.invokeExact(dtype, a, b, y, n)));
    }

    /** y [rows, cols] = silu(x[:, :cols]) * x[:, cols:] for x [rows, 2*cols]. */
    public void siluMul(int dtype, long x, long y, long rows, long cols) {
        check("gatun_cpu_silu_mul", call(() -> (int) siluMul.invokeExact(dtype, x, y, rows, cols)));
    }

    public void geluTanh(int dtype, long x, long y, long n) {
        check("gatun_cpu_gelu_tanh", call(() -> (int) geluTanh.invokeExact(dtype, x, y, n)));
    }

    /** y[t] = table[ids[t]] for table [vocab, hidden]. */
    public void embedding(int dtype, long ids, long table, long vocab, long y, long tokens, long hidden) {
        check("gatun_cpu_embedding", call(() -> (int) embedding.invokeExact(dtype, ids, table, vocab, y, tokens, hidden)));
    }

    /**
     * The fused diffusion sampler step (kernels/diffusion.cuh defines it): params [n, 8] fp32, factor [n] fp32 or 0,
     * seeds/steps [n] int64; prev, x0Out and factor may be 0. cfg: model is [2n, len] = [cond | uncond].
     */
    public void diffusionStep(int dtype, long x, long model, long prev, long out, long x0Out, long params, long factor,
                              long seeds, long steps, long n, long len, boolean cfg) {
        check("gatun_cpu_diffusion_step", call(() -> (int) diffusionStep.invokeExact(dtype, x, model, prev, out, x0Out, params,
                factor, seeds, steps, n, len, cfg ? 1 : 0)));
    }

    /** Guidance rescale factors [n] fp32 for model [2n, len] = [cond | uncond] (kernels/diffusion.cuh). */
    public void cfgRescale(int dtype, long model, long params, long factor, long n, long len) {
        check("gatun_cpu_cfg_rescale", call(() -> (int) cfgRescale.invokeExact(dtype, model, params, factor, n, len)));
    }

    /** y = LayerNorm(x) · (1 + scale_b) + shift_b over contiguous rows; batch element b's vectors at b · modStride. */
    public void adaLayerNorm(int dtype, long x, long shift, long scale, long y, long rows, long cols, long rowsPerBatch,
                             long modStride, float eps) {
        check("gatun_cpu_ada_layer_norm", call(() -> (int) adaLayerNorm.invokeExact(dtype, x, shift, scale, y, rows, cols,
                rowsPerBatch, modStride, eps)));
    }

    /** out = x + gate_b · y over contiguous rows; batch element b's gate at b · gateStride. */
    public void gatedResidual(int dtype, long x, long gate, long y, long out, long rows, long cols, long rowsPerBatch, long gateStride) {
        check("gatun_cpu_gated_residual", call(() -> (int) gatedResidual.invokeExact(dtype, x, gate, y, out, rows, cols,
                rowsPerBatch, gateStride)));
    }

    /** Latent [b, c, f, h, w] to tokens [b, f/pt, (h/ph)(w/pw), c·pt·ph·pw] (toTokens), or back. */
    public void patchify(int dtype, long src, long dst, long b, long c, long f, long h, long w, long pt, long ph, long pw, boolean toTokens) {
        check("gatun_cpu_patchify", call(() -> (int) patchify.invokeExact(dtype, src, dst, b, c, f, h, w, pt, ph, pw, toTokens ? 1 : 0)));
    }

    /** emb [n, dim] = [cos(t·f_j) | sin(t·f_j)] for fp32 t [n] (kernels/dit.cuh). */
    public void timestepEmbedding(int dtype, long t, long emb, long n, long dim, float maxPeriod) {
        check("gatun_cpu_timestep_embedding", call(() -> (int) timestepEmbedding.invokeExact(dtype, t, emb, n, dim, maxPeriod)));
    }

    /**
     * Video attention over [B, T, S, H, D] tokens read with strides (gatun_cpu.h has the addressing);
     * the text pointers are 0 when textLen is 0.
     */
    public void videoAttention(int dtype, long q, long k, long v, long out, long textQ, long textK, long textV, long textOut,
                               int numSeq, int textLen, int seqLen, int per, long outer, long inner, long step,
                               int qHeads, int kvHeads, int headDim, float scale, boolean causal) {
        check("gatun_cpu_video_attention", call(() -> (int) videoAttention.invokeExact(dtype, q, k, v, out, textQ, textK, textV,
                textOut, numSeq, textLen, seqLen, per, outer, inner, step, qHeads, kvHeads, headDim, scale, causal ? 1 : 0)));
    }

    /** GFLOP/s of independent FMA chains on every pool thread: the compute ceiling. */
    public double fmaPeakGflops(long iterations) {
        return call(() -> (double) fmaPeak.invokeExact(iterations));
    }

    /**
     * The same for the bf16 pair dot products the bf16 flash tiles run on (4 FLOPs per lane), or
     * -1 where they widen bf16 to fp32 FMAs instead (the AVX2 build, CPUs without avx512_bf16 or
     * with it turned off, Intel's).
     */
    public double bf16DotPeakGflops(long iterations) {
        return call(() -> (double) bf16DotPeak.invokeExact(iterations));
    }

    private static void check(String function, int status) {
        if (status != 0) throw new IllegalArgumentException(function + " rejected its arguments (status " + status + ")");
    }

    @FunctionalInterface
    private interface Downcall<T> { T run() throws Throwable; }

    private static <T> T call(Downcall<T> downcall) {
        try {
            return downcall.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MethodHandle handle(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(lookup.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libgatun_cpu lacks " + name)), descriptor);
    }
}
