package dev.gatun.diffusion;

import dev.gatun.ops.DiffusionOps;
import dev.gatun.tensor.Tensor;

/**
 * A denoising loop's per-request state: the inference plan (timesteps, sigmas), the step index and,
 * for multistep methods, the previous x0. Use:
 * <pre>
 *   x = noise · initNoiseSigma()
 *   while (!done()) { model = denoiser(x · modelInputScale(), timestep()); step(x, model, guidance); }
 * </pre>
 * {@link #step} updates x in place through one fused kernel ({@link DiffusionOps}). A diffusion engine
 * that batches requests at different steps calls {@link #sampleStep} on each request's sampler, runs one
 * {@link DiffusionOps#step} over the batch, then {@link #advance} on each.
 */
public interface Sampler extends AutoCloseable {
    SamplerKind kind();

    int numSteps();

    /** The step that {@link #step} runs next (0-based); {@link #numSteps()} when done. */
    int stepIndex();

    default boolean done() { return stepIndex() >= numSteps(); }

    /** The timestep the model is conditioned on at the current step. */
    double timestep();

    /** What x is multiplied by before the model sees it (c_in = 1/√(σ²+1) in σ-space, else 1). */
    double modelInputScale();

    /** What unit Gaussian noise is multiplied by to start the loop. */
    double initNoiseSigma();

    /**
     * One step for the batch {@code x [n, ...]} (updated in place) from {@code model} ([n, ...], or
     * [2n, ...] = [cond | uncond] when {@code guidance} is not null).
     */
    void step(Tensor x, Tensor model, Guidance guidance);

    /** The fused-step coefficients of the current step for sample {@code s} of the batch (no state change). */
    DiffusionOps.SampleStep sampleStep(int s, Guidance guidance);

    /** Moves to the next step (what {@link #step} does after its kernel). */
    void advance();

    @Override
    void close();
}
