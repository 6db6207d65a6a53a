package dev.gatun.diffusion;

/**
 * The samplers, each reduced to the one fused update of kernels/diffusion.cuh,
 * <pre>  x' = a·x + b·m + c·prev + d·z,   x0 = p·x + q·m  </pre>
 * with m the (guided) model output and the coefficients computed per step in double. Every
 * prediction type is linear in (x, m): x0 = px·x + pm·m and ε = ex·x + em·m (see {@link PredictionType};
 * in the σ-space of Euler, x = x0 + σ·ε and the model sees x·c_in, c_in = 1/√(σ²+1), so for EPSILON
 * px = 1, pm = −σ; V: px = 1/(σ²+1), pm = −σ/√(σ²+1); SAMPLE: px = 0, pm = 1). Substituting them into each
 * published update gives:
 * <ul>
 * <li>{@link #DDPM} — Ho et al. 2020, eq. 7 (diffusers DDPMScheduler, variance "fixed_small", no clipping),
 *     from ᾱ to ᾱ' (the next inference timestep, 1 after the last): β = 1 − ᾱ/ᾱ',
 *     μ = (√ᾱ'·β/(1−ᾱ))·x0 + (√(1−β)·(1−ᾱ')/(1−ᾱ))·x, variance (1−ᾱ')/(1−ᾱ)·β:
 *     a = cx + c0·px, b = c0·pm, d = √variance (c0, cx the two fractions).</li>
 * <li>{@link #DDIM} — Song et al. 2021, eq. 12 (diffusers DDIMScheduler, set_alpha_to_one): σ_η = η·√((1−ᾱ')/(1−ᾱ))·√(1−ᾱ/ᾱ'),
 *     x' = √ᾱ'·x0 + √(1−ᾱ'−σ_η²)·ε + σ_η·z: a = √ᾱ'·px + k·ex, b = √ᾱ'·pm + k·em, d = σ_η, k = √(1−ᾱ'−σ_η²).</li>
 * <li>{@link #EULER} — Karras et al. 2022, Algorithm 2 without churn (diffusers EulerDiscreteScheduler):
 *     x' = x + (σ'−σ)·(x − x0)/σ. With h = (σ'−σ)/σ: a = 1 + h − h·px, b = −h·pm (EPSILON: a = 1, b = σ'−σ).</li>
 * <li>{@link #EULER_ANCESTRAL} — k-diffusion sample_euler_ancestral, η = 1 (diffusers EulerAncestralDiscreteScheduler):
 *     σ_up = min(σ', √(σ'²(σ²−σ'²)/σ²)), σ_down = √(σ'²−σ_up²), x' = x + (σ_down−σ)·(x−x0)/σ + σ_up·z:
 *     as EULER with σ' → σ_down, and d = σ_up.</li>
 * <li>{@link #DPMPP_2M} — DPM-Solver++(2M), Lu et al. 2022, Algorithm 2 (diffusers DPMSolverMultistepScheduler,
 *     algorithm_type "dpmsolver++", solver_order 2, midpoint, final sigma 0, lower-order final step), in the VP form:
 *     for the sigma sequence s_i, α = 1/√(1+s²), σ = s·α, λ = ln(α/σ) = −ln s, h = λ'−λ,
 *     K = α'·(1 − e^{−h}). First order (first step): x' = (σ'/σ)·x + K·D0: a = σ'/σ + K·px, b = K·pm.
 *     Second order with r = (λ − λ_prev)/h, w = 1/(2r): x' = (σ'/σ)·x + K·((1+w)·D0 − w·D_prev):
 *     a = σ'/σ + K(1+w)·px, b = K(1+w)·pm, c = −K·w, prev = the previous step's x0. The last step
 *     (σ' = 0) returns x0: a = px, b = pm. Every step writes its x0 (p = px, q = pm) for the next one.</li>
 * <li>{@link #FLOW_EULER} — rectified flow / flow matching (Liu et al. 2022; Lipman et al. 2022; diffusers
 *     FlowMatchEulerDiscreteScheduler): x_σ = (1−σ)·x0 + σ·ε, the model predicts v = ε − x0, x' = x + (σ'−σ)·v:
 *     a = 1, b = σ'−σ (x0 = x − σ·v: p = 1, q = −σ).</li>
 * </ul>
 */
public enum SamplerKind {
    DDPM, DDIM, EULER, EULER_ANCESTRAL, DPMPP_2M, FLOW_EULER;

    /** Whether the step draws noise (DDIM only when η > 0). */
    public boolean stochastic(double eta) {
        return this == DDPM || this == EULER_ANCESTRAL || (this == DDIM && eta > 0);
    }

    /** Whether the method works on the σ-space latent x = x0 + σ·ε (model input scaled by 1/√(σ²+1)). */
    public boolean sigmaSpace() { return this == EULER || this == EULER_ANCESTRAL; }
}
