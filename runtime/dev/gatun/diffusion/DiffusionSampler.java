package dev.gatun.diffusion;

import dev.gatun.ops.DiffusionOps;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The one {@link Sampler} implementation: a precomputed plan (timesteps, ᾱ or σ per step), the step
 * index, and for DPM-Solver++(2M) the previous x0 (a tensor like x, owned and closed here). The
 * per-step coefficients of every method are derived in {@link SamplerKind}'s documentation and
 * computed by {@link #coefficients} in double.
 * <p>Noise: sample s of the batch uses Philox key {@code seed + s} and counter step = the step index,
 * so the same (seed, steps) give the same images on every device and in every batch.
 */
public final class DiffusionSampler implements Sampler {
    private final SamplerConfig config;
    private final int batch;
    private final long seed;
    private final double[] timesteps;
    /** VP methods (DDPM, DDIM): ᾱ at step i and at its target (1 after the last step). */
    private final double[] abar, abarNext;
    /** σ methods (EULER*, DPMPP_2M, FLOW_EULER): σ_0..σ_{N−1} and a final 0. */
    private final double[] sigmas;
    private int index;
    private Tensor prevX0;
    private boolean closed;

    private DiffusionSampler(SamplerConfig config, NoiseSchedule schedule, int batch, long seed) {
        this.config = config;
        this.batch = batch;
        this.seed = seed;
        int n = config.steps();
        SamplerKind kind = config.kind();
        if (kind == SamplerKind.FLOW_EULER) {
            sigmas = NoiseSchedule.flowSigmas(n, config.flowShift());
            timesteps = new double[n];
            int T = schedule == null ? 1000 : schedule.trainSteps();
            for (int i = 0; i < n; i++) timesteps[i] = sigmas[i] * T;
            abar = abarNext = null;
            return;
        }
        if (schedule == null) throw new IllegalArgumentException(kind + " needs a noise schedule");
        double[] t = schedule.timesteps(n, config.spacing(), config.stepsOffset());
        if (kind == SamplerKind.DDPM || kind == SamplerKind.DDIM) {
            for (int i = 0; i < n; i++) t[i] = Math.rint(t[i]);
            timesteps = t;
            abar = new double[n];
            abarNext = new double[n];
            for (int i = 0; i < n; i++) {
                abar[i] = schedule.alphaCumprod((int) t[i]);
                abarNext[i] = i + 1 < n ? schedule.alphaCumprod((int) t[i + 1]) : 1.0;
            }
            sigmas = null;
            return;
        }
        abar = abarNext = null;
        if (kind == SamplerKind.DPMPP_2M && !config.karras()) for (int i = 0; i < n; i++) t[i] = Math.rint(t[i]);
        double[] s = new double[n + 1];
        for (int i = 0; i < n; i++) s[i] = schedule.sigmaAt(t[i]);
        if (config.karras()) {
            double[] k = NoiseSchedule.karrasSigmas(s[n - 1], s[0], n, 7.0);
            System.arraycopy(k, 0, s, 0, n);
            for (int i = 0; i < n; i++) t[i] = schedule.timestepOf(s[i]);
        }
        sigmas = s;
        timesteps = t;
    }

    /**
     * A sampler for a batch of {@code batch} latents; {@code schedule} may be null for FLOW_EULER
     * (timesteps are then σ·1000). Sample s draws its noise under Philox key {@code seed + s}.
     */
    public static DiffusionSampler create(SamplerConfig config, NoiseSchedule schedule, int batch, long seed) {
        if (config == null) throw new IllegalArgumentException("sampler config is required");
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        return new DiffusionSampler(config, schedule, batch, seed);
    }

    @Override public SamplerKind kind() { return config.kind(); }

    public SamplerConfig config() { return config; }

    @Override public int numSteps() { return config.steps(); }

    @Override public int stepIndex() { return index; }

    public double[] timesteps() { return timesteps.clone(); }

    /** σ_0..σ_N (σ_N = 0) for the σ methods; null for DDPM/DDIM. */
    public double[] sigmas() { return sigmas == null ? null : sigmas.clone(); }

    /** ᾱ at step i and at its target, for DDPM/DDIM; NaN otherwise. */
    public double alphaCumprod(int i) { return abar == null ? Double.NaN : abar[i]; }

    public double alphaCumprodNext(int i) { return abarNext == null ? Double.NaN : abarNext[i]; }

    @Override
    public double timestep() {
        requireNotDone();
        return timesteps[index];
    }

    @Override
    public double modelInputScale() {
        requireNotDone();
        return config.kind().sigmaSpace() ? 1 / Math.sqrt(sigmas[index] * sigmas[index] + 1) : 1;
    }

    @Override
    public double initNoiseSigma() {
        return config.kind().sigmaSpace() ? Math.sqrt(sigmas[0] * sigmas[0] + 1) : 1;
    }

    @Override
    public DiffusionOps.SampleStep sampleStep(int s, Guidance guidance) {
        requireNotDone();
        if (s < 0 || s >= batch) throw new IllegalArgumentException("sample " + s + " is outside the batch of " + batch);
        double[] k = coefficients(index, index > 0);
        return new DiffusionOps.SampleStep(k[0], k[1], k[2], k[3], k[4], k[5], guidance == null ? 1 : guidance.scale(),
                guidance == null ? 0 : guidance.rescale(), seed + s, index);
    }

    @Override
    public void step(Tensor x, Tensor model, Guidance guidance) {
        if (closed) throw new IllegalStateException("sampler is closed");
        requireNotDone();
        if (x == null || model == null) throw new IllegalArgumentException("step: x and model are required");
        if (x.rank() < 1 || x.shape(0) != batch)
            throw new IllegalArgumentException("step: x must be [" + batch + ", ...] (this sampler's batch), got " + Arrays.toString(x.shape()));
        long expected = guidance == null ? batch : 2L * batch;
        if (model.rank() < 1 || model.shape(0) != expected)
            throw new IllegalArgumentException("step: model output must have " + expected + " rows ("
                    + (guidance == null ? "no guidance" : "[cond | uncond] for guidance") + "), got " + Arrays.toString(model.shape()));
        DiffusionOps.SampleStep[] st = new DiffusionOps.SampleStep[batch];
        for (int s = 0; s < batch; s++) st[s] = sampleStep(s, guidance);
        Tensor x0 = null, prev = null;
        if (config.kind() == SamplerKind.DPMPP_2M && index + 1 < numSteps()) {  // the last step (σ' = 0) is x0: no state
            if (prevX0 != null && (prevX0.dtype() != x.dtype() || !Arrays.equals(prevX0.shape(), x.shape()) || prevX0.device() != x.device()))
                throw new IllegalArgumentException("step: x changed shape, dtype or device between steps: " + x + " vs state " + prevX0);
            if (prevX0 == null) prevX0 = Tensor.empty(x.device(), x.dtype(), x.shape());
            x0 = prevX0;                          // this step's x0 overwrites the previous one in place
            prev = index > 0 ? prevX0 : null;
        }
        DiffusionOps.step(x, model, prev, x, x0, st);
        advance();
    }

    @Override
    public void advance() {
        requireNotDone();
        index++;
    }

    /**
     * {a, b, c, d, p, q} of step i (derivations in {@link SamplerKind}); {@code hasPrev}: the previous x0 is
     * available (DPMPP_2M's second-order update).
     */
    public double[] coefficients(int i, boolean hasPrev) {
        if (i < 0 || i >= numSteps()) throw new IllegalArgumentException("step " + i + " is outside [0, " + numSteps() + ")");
        PredictionType pt = config.prediction();
        return switch (config.kind()) {
            case DDPM, DDIM -> {
                double ab = abar[i], abn = abarNext[i], al = Math.sqrt(ab), sg = Math.sqrt(1 - ab);
                double[] pe = vpLinear(pt, al, sg);  // px, pm, ex, em
                if (config.kind() == SamplerKind.DDIM) {
                    double var = config.eta() == 0 ? 0 : config.eta() * config.eta() * (1 - abn) / (1 - ab) * (1 - ab / abn);
                    double k = Math.sqrt(Math.max(0, 1 - abn - var)), an = Math.sqrt(abn);
                    yield new double[] {an * pe[0] + k * pe[2], an * pe[1] + k * pe[3], 0, Math.sqrt(var), pe[0], pe[1]};
                }
                double beta = 1 - ab / abn;
                double c0 = Math.sqrt(abn) * beta / (1 - ab), cx = Math.sqrt(1 - beta) * (1 - abn) / (1 - ab);
                double var = (1 - abn) / (1 - ab) * beta;
                yield new double[] {cx + c0 * pe[0], c0 * pe[1], 0, Math.sqrt(Math.max(0, var)), pe[0], pe[1]};
            }
            case EULER, EULER_ANCESTRAL -> {
                double s = sigmas[i], sn = sigmas[i + 1], d = 0;
                if (config.kind() == SamplerKind.EULER_ANCESTRAL) {
                    double up = Math.min(sn, Math.sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
                    d = up;
                    sn = Math.sqrt(sn * sn - up * up);
                }
                double[] p = sigmaLinear(pt, s);
                double h = (sn - s) / s;
                yield new double[] {1 + h - h * p[0], -h * p[1], 0, d, p[0], p[1]};
            }
            case DPMPP_2M -> {
                double s = sigmas[i], sn = sigmas[i + 1];
                double al = 1 / Math.sqrt(1 + s * s), sg = s * al;
                double[] pe = vpLinear(pt, al, sg);
                if (sn == 0) yield new double[] {pe[0], pe[1], 0, 0, pe[0], pe[1]};
                double aln = 1 / Math.sqrt(1 + sn * sn), sgn = sn * aln;
                double h = Math.log(s / sn), kk = aln * -Math.expm1(-h), ratio = sgn / sg;
                if (i == 0 || !hasPrev) yield new double[] {ratio + kk * pe[0], kk * pe[1], 0, 0, pe[0], pe[1]};
                double r = Math.log(sigmas[i - 1] / s) / h, w = 1 / (2 * r);
                yield new double[] {ratio + kk * (1 + w) * pe[0], kk * (1 + w) * pe[1], -kk * w, 0, pe[0], pe[1]};
            }
            case FLOW_EULER -> new double[] {1, sigmas[i + 1] - sigmas[i], 0, 0, 1, -sigmas[i]};
        };
    }

    /** {px, pm, ex, em}: x0 = px·x + pm·m, ε = ex·x + em·m in the VP form x = α·x0 + σ·ε. */
    static double[] vpLinear(PredictionType pt, double alpha, double sigma) {
        return switch (pt) {
            case EPSILON -> new double[] {1 / alpha, -sigma / alpha, 0, 1};
            case V_PREDICTION -> new double[] {alpha, -sigma, sigma, alpha};
            case SAMPLE -> new double[] {0, 1, 1 / sigma, -alpha / sigma};
            case FLOW -> throw new IllegalArgumentException("FLOW prediction needs FLOW_EULER");
        };
    }

    /** {px, pm}: x0 = px·x + pm·m in σ-space (x = x0 + σ·ε, the model saw x/√(σ²+1)). */
    static double[] sigmaLinear(PredictionType pt, double sigma) {
        return switch (pt) {
            case EPSILON -> new double[] {1, -sigma};
            case V_PREDICTION -> new double[] {1 / (sigma * sigma + 1), -sigma / Math.sqrt(sigma * sigma + 1)};
            case SAMPLE -> new double[] {0, 1};
            case FLOW -> throw new IllegalArgumentException("FLOW prediction needs FLOW_EULER");
        };
    }

    private void requireNotDone() {
        if (index >= numSteps()) throw new IllegalStateException("the sampler has run all its " + numSteps() + " steps");
    }

    @Override
    public void close() {
        closed = true;
        if (prevX0 != null) {
            prevX0.close();
            prevX0 = null;
        }
    }
}
