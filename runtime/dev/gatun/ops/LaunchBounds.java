package dev.gatun.ops;

import java.util.List;
import java.util.Optional;

/**
 * The largest launch Gatun makes of each kernel family: threads per block and dynamic shared
 * memory. The ops use it to size their launches, and the build checks every kernel's ptxas
 * figures (registers, spills, static shared memory) against it, so a kernel that would not fit
 * its block, or a hot kernel that spills, fails the build instead of surprising on a GPU.
 *
 * @param prefix      kernel names starting with this belong to the family
 * @param maxThreads  most threads per block any launch uses
 * @param maxDynamicSharedBytes most dynamic shared memory any launch uses
 * @param hot         whether a spill is a build failure (the kernels that dominate run time)
 */
public record LaunchBounds(String prefix, int maxThreads, int maxDynamicSharedBytes, boolean hot) {
    public static final List<LaunchBounds> ALL = List.of(
            new LaunchBounds("gatun_softmax_", 1024, 0, false),
            new LaunchBounds("gatun_rms_norm_", 1024, 0, false),
            new LaunchBounds("gatun_row_sum_", 1024, 0, false),
            new LaunchBounds("gatun_rope_", 128, 0, false),
            new LaunchBounds("gatun_kv_append_rope_", 128, 0, false),
            new LaunchBounds("gatun_attention_decode_", 128, 0, true),
            new LaunchBounds("gatun_attention_merge_", 128, 0, false),
            new LaunchBounds("gatun_attention_prefill_", 128, 76288, true),  // also _paged_
            new LaunchBounds("gatun_sample_", 1024, 0, false),
            new LaunchBounds("gatun_philox_uniform", 256, 0, false),
            new LaunchBounds("gatun_gemm_", 256, 20480, true),
            new LaunchBounds("gatun_add_", 256, 0, false),
            new LaunchBounds("gatun_silu_mul_", 256, 0, false),
            new LaunchBounds("gatun_gelu_tanh_", 256, 0, false),
            new LaunchBounds("gatun_embedding_", 256, 0, false),
            new LaunchBounds("gatun_diffusion_step_", 256, 0, false),
            new LaunchBounds("gatun_cfg_rescale_", 256, 0, false),
            new LaunchBounds("gatun_ada_layer_norm_", 1024, 0, false),
            new LaunchBounds("gatun_gated_residual_", 256, 0, false),
            new LaunchBounds("gatun_patchify_", 256, 0, false),
            new LaunchBounds("gatun_unpatchify_", 256, 0, false),
            new LaunchBounds("gatun_timestep_embedding_", 256, 0, false),
            new LaunchBounds("gatun_video_attention_", 128, 76288, true),
            new LaunchBounds("gatun_fma_peak_", 256, 0, true),
            new LaunchBounds("gatun_mma_peak_", 128, 0, true));

    /** The family of {@code kernel}, if Gatun launches it. */
    public static Optional<LaunchBounds> of(String kernel) {
        return ALL.stream().filter(b -> kernel.startsWith(b.prefix)).findFirst();
    }

    static LaunchBounds require(String kernel) {
        return of(kernel).orElseThrow(() -> new IllegalStateException("no launch bounds declared for " + kernel));
    }
}
