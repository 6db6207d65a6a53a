package dev.gatun.diffusion;

/**
 * How to sample: the method, what the model predicts, the number of inference steps and the plan.
 *
 * @param kind        the method
 * @param prediction  EPSILON, V_PREDICTION or SAMPLE for the VP/σ methods; FLOW for FLOW_EULER (required there)
 * @param steps       inference steps, ≥ 1
 * @param spacing     timestep spacing for the discrete-schedule methods (ignored by FLOW_EULER)
 * @param stepsOffset diffusers' steps_offset (LEADING spacing only)
 * @param karras      use Karras sigmas (ρ = 7) — EULER, EULER_ANCESTRAL and DPMPP_2M only
 * @param eta         DDIM's η in [0, 1] (0 = deterministic); must be 0 for the other methods
 * @param flowShift   the flow-matching shift (> 0; 1 = none) — FLOW_EULER only
 */
public record SamplerConfig(SamplerKind kind, PredictionType prediction, int steps, NoiseSchedule.Spacing spacing,
                            int stepsOffset, boolean karras, double eta, double flowShift) {
    public SamplerConfig {
        if (kind == null) throw new IllegalArgumentException("sampler kind is required");
        if (prediction == null) throw new IllegalArgumentException("prediction type is required");
        if (steps < 1) throw new IllegalArgumentException("inference steps must be >= 1, got " + steps);
        if ((kind == SamplerKind.FLOW_EULER) != (prediction == PredictionType.FLOW))
            throw new IllegalArgumentException(kind == SamplerKind.FLOW_EULER
                    ? "FLOW_EULER needs prediction type FLOW (the model predicts the velocity ε − x0), got " + prediction
                    : "prediction type FLOW is only for FLOW_EULER, got sampler " + kind);
        if (kind != SamplerKind.FLOW_EULER && spacing == null) throw new IllegalArgumentException("timestep spacing is required for " + kind);
        if (karras && !(kind == SamplerKind.EULER || kind == SamplerKind.EULER_ANCESTRAL || kind == SamplerKind.DPMPP_2M))
            throw new IllegalArgumentException("Karras sigmas apply to EULER, EULER_ANCESTRAL and DPMPP_2M, not " + kind);
        if (!(eta >= 0 && eta <= 1)) throw new IllegalArgumentException("eta must be in [0, 1], got " + eta);
        if (eta != 0 && kind != SamplerKind.DDIM) throw new IllegalArgumentException("eta applies to DDIM only, got " + eta + " for " + kind);
        if (!(flowShift > 0) || !Double.isFinite(flowShift)) throw new IllegalArgumentException("flow shift must be positive and finite, got " + flowShift);
        if (flowShift != 1 && kind != SamplerKind.FLOW_EULER) throw new IllegalArgumentException("flow shift applies to FLOW_EULER only, got " + flowShift);
        if (stepsOffset < 0) throw new IllegalArgumentException("steps offset must be >= 0, got " + stepsOffset);
    }

    /** A config with trailing spacing, no Karras, η 0, no shift. */
    public static SamplerConfig of(SamplerKind kind, PredictionType prediction, int steps) {
        return new SamplerConfig(kind, prediction, steps, NoiseSchedule.Spacing.TRAILING, 0, false, 0, 1);
    }

    public SamplerConfig withSpacing(NoiseSchedule.Spacing s, int offset) {
        return new SamplerConfig(kind, prediction, steps, s, offset, karras, eta, flowShift);
    }

    public SamplerConfig withKarras(boolean k) { return new SamplerConfig(kind, prediction, steps, spacing, stepsOffset, k, eta, flowShift); }

    public SamplerConfig withEta(double e) { return new SamplerConfig(kind, prediction, steps, spacing, stepsOffset, karras, e, flowShift); }

    public SamplerConfig withFlowShift(double s) { return new SamplerConfig(kind, prediction, steps, spacing, stepsOffset, karras, eta, s); }
}
