package dev.gatun.diffusion;

/**
 * What the model predicts (diffusers' {@code prediction_type}). In the variance-preserving form
 * x_t = α·x0 + σ·ε (α = √ᾱ, σ = √(1−ᾱ)):
 * <ul>
 * <li>{@code EPSILON}: the noise ε; x0 = (x − σ·m)/α.</li>
 * <li>{@code V_PREDICTION}: v = α·ε − σ·x0 (Salimans &amp; Ho 2022); x0 = α·x − σ·v, ε = σ·x + α·v.</li>
 * <li>{@code SAMPLE}: x0 itself; ε = (x − α·x0)/σ.</li>
 * <li>{@code FLOW}: the rectified-flow velocity v = ε − x0 for x_σ = (1−σ)·x0 + σ·ε (flow samplers only).</li>
 * </ul>
 */
public enum PredictionType { EPSILON, V_PREDICTION, SAMPLE, FLOW }
