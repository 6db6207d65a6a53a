package dev.gatun.diffusion;

import dev.gatun.device.Device;
import dev.gatun.ops.DiffusionOps;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Philox;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused sampler step (kernels/diffusion.cuh, native/cpu/diffusion.cpp) on every device and dtype:
 * one step of each sampler and prediction type, with classifier-free guidance and guidance rescale,
 * against the published update written here in double; the Philox/Box-Muller noise against a Java
 * implementation; and whole denoising loops driven by the exact denoiser of a Gaussian data
 * distribution (deterministic samplers converge to the exact probability-flow solution, stochastic
 * ones to the data's mean and variance).
 */
@Tag("kernel")
class DiffusionKernelTest {
    // ------------------------------------------------------------------ Philox4x32-10 + Box-Muller, from the definitions
    /** Element j's standard normal at (seed, step): counter (j, step lo, step hi ^ "DIFF"), Box-Muller in double. */
    static double normal(long seed, long step, long j) {
        int[] w = Philox.philox((int) j, (int) (j >>> 32), (int) step, (int) (step >>> 32) ^ 0x44494646, (int) seed, (int) (seed >>> 32));
        double u1 = 1 - (w[0] >>> 8) * 0x1p-24, u2 = (w[1] >>> 8) * 0x1p-24;
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    // ------------------------------------------------------------------ one step vs the published formulas
    static List<Arguments> stepCases() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (SamplerKind kind : SamplerKind.values())
                    for (PredictionType pt : PredictionType.values())
                        if ((kind == SamplerKind.FLOW_EULER) == (pt == PredictionType.FLOW)) cases.add(Arguments.of(device, dtype, kind, pt));
        return cases;
    }

    @ParameterizedTest(name = "{0} {1} {2} {3}")
    @MethodSource("stepCases")
    void oneStepMatchesThePublishedUpdate(Device device, DType dtype, SamplerKind kind, PredictionType pt) {
        Random random = Seeds.random("diffusion-step" + device + dtype + kind + pt);
        int n = 2, len = TestDevices.small() ? 37 : 4099, steps = 12;
        SamplerConfig cfg = SamplerConfig.of(kind, pt, steps);
        if (kind == SamplerKind.DDIM) cfg = cfg.withEta(0.6);
        if (kind == SamplerKind.DDPM) cfg = cfg.withSpacing(NoiseSchedule.Spacing.LEADING, 1);
        if (kind == SamplerKind.DPMPP_2M && pt == PredictionType.V_PREDICTION) cfg = cfg.withKarras(true);
        if (kind == SamplerKind.EULER && pt == PredictionType.SAMPLE) cfg = cfg.withKarras(true);
        if (kind == SamplerKind.FLOW_EULER) cfg = cfg.withFlowShift(3);
        int mode = (kind.ordinal() + pt.ordinal()) % 3;  // 0: CFG + rescale, 1: CFG, 2: no guidance
        Guidance guidance = mode == 2 ? null : new Guidance(1 + 7 * random.nextDouble(), mode == 0 ? 0.7 : 0);
        boolean cfgOn = guidance != null;
        // the final step of DPM++ (σ' = 0) and of the others is covered too
        int i = kind == SamplerKind.DPMPP_2M && random.nextBoolean() ? steps - 1 : 1 + random.nextInt(steps - 1);
        long seed = random.nextLong();
        try (DiffusionSampler sampler = DiffusionSampler.create(cfg, NoiseSchedule.stableDiffusion(), n, seed)) {
            for (int k = 0; k < i; k++) sampler.advance();
            double xScale = kind.sigmaSpace() ? sampler.initNoiseSigma() : 1;
            float[] x = Reference.rounded(Seeds.gaussian(random, n * len, xScale), dtype);
            float[] model = Reference.rounded(Seeds.gaussian(random, (cfgOn ? 2 : 1) * n * len, 1), dtype);
            if (mode == 0) {  // sample 0's prediction is constant: the rescale has no spread to match and leaves it alone
                java.util.Arrays.fill(model, 0, len, 0.75f);
                java.util.Arrays.fill(model, n * len, (n + 1) * len, 0.75f);
            }
            float[] prev = Reference.rounded(Seeds.gaussian(random, n * len, 1), dtype);
            boolean dpm = kind == SamplerKind.DPMPP_2M;
            DiffusionOps.SampleStep[] st = new DiffusionOps.SampleStep[n];
            for (int s = 0; s < n; s++) st[s] = sampler.sampleStep(s, guidance);
            double[] ref = new double[n * len], refX0 = new double[n * len];
            float[] naive = new float[n * len], naiveX0 = new float[n * len];
            reference(sampler, i, x, model, prev, n, len, guidance, seed, ref, refX0, v -> v);
            double[] tmp = new double[n * len], tmpX0 = new double[n * len];
            reference(sampler, i, x, model, prev, n, len, guidance, seed, tmp, tmpX0, v -> dtype.round((float) v));
            for (int e = 0; e < n * len; e++) {
                naive[e] = dtype.round((float) tmp[e]);
                naiveX0[e] = dtype.round((float) tmpX0[e]);
            }
            String what = device.description() + " " + dtype + " " + kind + " " + pt + " step " + i + " " + guidance;
            try (Tensor tx = Tensor.of(device, dtype, x, n, len); Tensor tm = Tensor.of(device, dtype, model, (cfgOn ? 2 : 1) * n, len);
                 Tensor tp = Tensor.of(device, dtype, prev, n, len); Tensor out = Tensor.empty(device, dtype, n, len);
                 Tensor x0 = Tensor.empty(device, dtype, n, len)) {
                out.fillBytes((byte) 0xFF);
                x0.fillBytes((byte) 0xFF);
                DiffusionOps.step(tx, tm, dpm ? tp : null, out, dpm ? x0 : null, st);
                Numerics.assertClose(what, dtype, out.toFloatArray(), ref, naive);
                if (dpm) Numerics.assertClose(what + " x0", dtype, x0.toFloatArray(), refX0, naiveX0);
                // in place, as the sampler runs it: out = x, x0Out = prev
                DiffusionOps.step(tx, tm, dpm ? tp : null, tx, dpm ? tp : null, st);
                Numerics.assertClose(what + " in place", dtype, tx.toFloatArray(), ref, naive);
                if (dpm) Numerics.assertClose(what + " x0 in place", dtype, tp.toFloatArray(), refX0, naiveX0);
            }
        }
    }

    /**
     * The published update of each method, straight from the papers/diffusers (not from the
     * coefficients under test); {@code r} rounds each intermediate (identity = the double reference,
     * dtype rounding = the naive same-precision computation).
     */
    static void reference(DiffusionSampler sm, int i, float[] x, float[] model, float[] prev, int n, int len, Guidance g, long seed,
                          double[] out, double[] x0Out, DoubleUnaryOperator r) {
        SamplerKind kind = sm.kind();
        PredictionType pt = sm.config().prediction();
        for (int s = 0; s < n; s++) {
            double[] m = new double[len];
            double[] cond = new double[len];
            for (int j = 0; j < len; j++) {
                if (g == null) m[j] = model[s * len + j];
                else {
                    double c = model[s * len + j], u = model[(n + s) * len + j];
                    cond[j] = c;
                    m[j] = r.applyAsDouble(u + g.scale() * (c - u));
                }
            }
            if (g != null && g.rescale() > 0) {  // Lin et al. 2023 eq. 15-16, per sample
                double spread = std(m);
                double f = spread > 0 ? 1 - g.rescale() + g.rescale() * std(cond) / spread : 1;
                for (int j = 0; j < len; j++) m[j] = r.applyAsDouble(m[j] * f);
            }
            long sd = seed + s;
            for (int j = 0; j < len; j++) {
                int e = s * len + j;
                double xv = x[e], mv = m[j], x0, res;
                switch (kind) {
                    case DDPM, DDIM -> {
                        double ab = sm.alphaCumprod(i), abn = sm.alphaCumprodNext(i);
                        double al = Math.sqrt(ab), sg = Math.sqrt(1 - ab);
                        x0 = r.applyAsDouble(switch (pt) {
                            case EPSILON -> (xv - sg * mv) / al;
                            case V_PREDICTION -> al * xv - sg * mv;
                            default -> mv;
                        });
                        if (kind == SamplerKind.DDIM) {  // Song et al. 2021 eq. 12
                            double eps = r.applyAsDouble(switch (pt) {
                                case EPSILON -> mv;
                                case V_PREDICTION -> al * mv + sg * xv;
                                default -> (xv - al * x0) / sg;
                            });
                            double eta = sm.config().eta();
                            double sigEta = eta * Math.sqrt((1 - abn) / (1 - ab)) * Math.sqrt(1 - ab / abn);
                            res = Math.sqrt(abn) * x0 + Math.sqrt(1 - abn - sigEta * sigEta) * eps + sigEta * normal(sd, i, j);
                        } else {  // Ho et al. 2020 eq. 7, fixed_small variance
                            double beta = 1 - ab / abn, alpha = 1 - beta;
                            double mu = Math.sqrt(abn) * beta / (1 - ab) * x0 + Math.sqrt(alpha) * (1 - abn) / (1 - ab) * xv;
                            res = mu + Math.sqrt((1 - abn) / (1 - ab) * beta) * normal(sd, i, j);
                        }
                    }
                    case EULER, EULER_ANCESTRAL -> {  // Karras et al. 2022 Alg. 2 (no churn); k-diffusion euler_ancestral
                        double sg = sm.sigmas()[i], sn = sm.sigmas()[i + 1];
                        x0 = r.applyAsDouble(switch (pt) {
                            case EPSILON -> xv - sg * mv;
                            case V_PREDICTION -> mv * (-sg / Math.sqrt(sg * sg + 1)) + xv / (sg * sg + 1);
                            default -> mv;
                        });
                        double d = r.applyAsDouble((xv - x0) / sg);
                        if (kind == SamplerKind.EULER) res = xv + (sn - sg) * d;
                        else {
                            double up = Math.min(sn, Math.sqrt(sn * sn * (sg * sg - sn * sn) / (sg * sg)));
                            double down = Math.sqrt(sn * sn - up * up);
                            res = xv + (down - sg) * d + up * normal(sd, i, j);
                        }
                    }
                    case DPMPP_2M -> {  // Lu et al. 2022 (DPM-Solver++ 2M, midpoint), diffusers' VP form
                        double[] sig = sm.sigmas();
                        double ss = sig[i], st = sig[i + 1];
                        double as = 1 / Math.sqrt(1 + ss * ss), ssv = ss * as;
                        x0 = r.applyAsDouble(switch (pt) {
                            case EPSILON -> (xv - ssv * mv) / as;
                            case V_PREDICTION -> as * xv - ssv * mv;
                            default -> mv;
                        });
                        if (st == 0) res = x0;
                        else {
                            double at = 1 / Math.sqrt(1 + st * st), stv = st * at;
                            double lt = Math.log(at) - Math.log(stv), ls = Math.log(as) - Math.log(ssv), h = lt - ls;
                            res = stv / ssv * xv - at * (Math.exp(-h) - 1) * x0;
                            if (i > 0) {
                                double ap = 1 / Math.sqrt(1 + sig[i - 1] * sig[i - 1]), lp = Math.log(ap) - Math.log(sig[i - 1] * ap);
                                double r0 = (ls - lp) / h, d1 = r.applyAsDouble((x0 - prev[e]) / r0);
                                res -= 0.5 * at * (Math.exp(-h) - 1) * d1;
                            }
                        }
                    }
                    case FLOW_EULER -> {  // rectified flow: x' = x + (σ' − σ)·v
                        double sg = sm.sigmas()[i], sn = sm.sigmas()[i + 1];
                        x0 = r.applyAsDouble(xv - sg * mv);
                        res = xv + (sn - sg) * mv;
                    }
                    default -> throw new AssertionError(kind);
                }
                out[e] = res;
                x0Out[e] = x0;
            }
        }
    }

    static double std(double[] v) {
        double mean = 0, q = 0;
        for (double a : v) mean += a;
        mean /= v.length;
        for (double a : v) q += (a - mean) * (a - mean);
        return Math.sqrt(q / (v.length - 1));
    }

    // ------------------------------------------------------------------ noise
    @Test
    void noiseIsPhiloxBoxMullerOnEveryDeviceAndIndependentOfTheBatch() {
        Random random = Seeds.random("diffusion-noise");
        int len = TestDevices.small() ? 300 : 20_000;
        long seed = random.nextLong(), step = random.nextLong() >>> 20;
        double[] expected = new double[2 * len];
        for (int s = 0; s < 2; s++) for (int j = 0; j < len; j++) expected[s * len + j] = normal(seed + s, step, j);
        float[] first = null;
        for (Device device : TestDevices.all()) {
            float[] z = noise(device, new long[] {seed, seed + 1}, step, len);
            for (int e = 0; e < z.length; e++) {
                double tol = 4e-6 * (1 + Math.abs(expected[e]));
                int at = e;
                assertTrue(Math.abs(z[e] - expected[e]) <= tol, () -> device.description() + " z[" + at + "] = " + z[at] + ", expected "
                        + expected[at] + Seeds.replay());
            }
            // the same (seed, step) gives the same bits wherever the sample sits in the batch
            float[] swapped = noise(device, new long[] {seed + 1, seed}, step, len);
            for (int j = 0; j < len; j++) {
                assertEquals(Float.floatToIntBits(z[j]), Float.floatToIntBits(swapped[len + j]), device.description());
                assertEquals(Float.floatToIntBits(z[len + j]), Float.floatToIntBits(swapped[j]), device.description());
            }
            if (first == null) first = z;
            for (int e = 0; e < z.length; e++) assertEquals(first[e], z[e], 8e-6 * (1 + Math.abs(first[e])), "devices agree to a few ulps");
        }
        if (!TestDevices.small()) {
            double mean = 0, var = 0;
            for (float v : first) mean += v;
            mean /= first.length;
            for (float v : first) var += (v - mean) * (v - mean);
            var /= first.length - 1;
            assertEquals(0, mean, 0.03, "noise mean");
            assertEquals(1, var, 0.05, "noise variance");
        }
    }

    /** x' = 0·x + 0·m + 1·z for two samples. */
    static float[] noise(Device device, long[] seeds, long step, int len) {
        try (Tensor x = Tensor.of(device, DType.F32, new float[2 * len], 2, len); Tensor m = Tensor.of(device, DType.F32, new float[2 * len], 2, len);
             Tensor out = Tensor.empty(device, DType.F32, 2, len)) {
            out.fillBytes((byte) 0xFF);
            DiffusionOps.SampleStep[] st = new DiffusionOps.SampleStep[2];
            for (int s = 0; s < 2; s++) st[s] = new DiffusionOps.SampleStep(0, 0, 0, 1, 0, 0, 1, 0, seeds[s], step);
            DiffusionOps.step(x, m, null, out, null, st);
            return out.toFloatArray();
        }
    }

    // ------------------------------------------------------------------ whole loops on a Gaussian toy problem
    static final double MU = 0.7, S = 0.5;  // data x0 ~ N(MU, S²) per element

    static List<Arguments> loopCases() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all()) for (SamplerKind kind : SamplerKind.values()) cases.add(Arguments.of(device, kind));
        return cases;
    }

    static PredictionType loopPrediction(SamplerKind kind) {
        return switch (kind) {
            case DDIM, EULER_ANCESTRAL -> PredictionType.V_PREDICTION;
            case DDPM -> PredictionType.SAMPLE;
            case FLOW_EULER -> PredictionType.FLOW;
            default -> PredictionType.EPSILON;
        };
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("loopCases")
    void denoisingLoopReachesTheGaussianData(Device device, SamplerKind kind) {
        Random random = Seeds.random("diffusion-loop" + device + kind);
        int n = 2, len = TestDevices.small() ? 2048 : 4096;
        float[] z = new float[n * len];
        for (int e = 0; e < z.length; e++) z[e] = (float) random.nextGaussian();
        NoiseSchedule schedule = NoiseSchedule.of(NoiseSchedule.BetaSchedule.LINEAR, 1000, 1e-4, 0.02);
        String what = device.description() + " " + kind + Seeds.replay();
        boolean deterministic = !kind.stochastic(0);
        if (deterministic) {
            double coarse = odeError(device, kind, schedule, z, n, len, 8), fine = odeError(device, kind, schedule, z, n, len, 32);
            // first-order methods (DDIM, Euler, flow Euler): error ~ 1/steps; DPM-Solver++(2M): ~ 1/steps²
            boolean second = kind == SamplerKind.DPMPP_2M;
            double bound = second ? 0.01 : 0.07, gain = second ? 8 : 2.5;
            System.out.printf("%s: RMS error vs the exact flow, 8 steps %.4g, 32 steps %.4g%n", what, coarse, fine);
            assertTrue(fine < coarse / gain, what + ": 4x the steps must cut the error by " + gain + "x: " + coarse + " -> " + fine);
            assertTrue(fine < bound, what + ": RMS error vs the exact probability-flow solution " + fine + " > " + bound);
        } else {
            // With the exact denoiser everything is affine in x, so the sampler's output law is Gaussian with a mean
            // and variance that propagate exactly: x' = (a + b·slope)·x + b·intercept + d·z. Ancestral samplers with
            // few steps under-disperse (the posterior ignores the uncertainty of x0), so the samples are checked
            // against this prediction, and the prediction against the data as the steps grow.
            int steps = TestDevices.small() ? 30 : 60;
            double eta = kind == SamplerKind.DDIM ? 1 : 0;
            float[] out = run(device, kind, eta, schedule, z, n, len, steps, random.nextLong());
            double mean = 0, var = 0;
            for (float v : out) mean += v;
            mean /= out.length;
            for (float v : out) var += (v - mean) * (v - mean);
            var /= out.length - 1;
            double[] predicted = propagate(kind, eta, schedule, steps);
            // Five standard errors of the sample mean and variance of out.length Gaussian draws: a false alarm
            // is a one-in-a-million event, a wrong noise scale (even by 15%) still fails.
            int draws = out.length;
            assertEquals(predicted[0], mean, 5 * Math.sqrt(predicted[1] / draws), what + " mean");
            assertEquals(predicted[1], var, 5 * Math.sqrt(2.0 / (draws - 1)) * predicted[1], what + " variance (predicted " + predicted[1] + ")");
            double[] many = propagate(kind, eta, schedule, 1000);
            assertEquals(MU, many[0], 0.01, what + " mean with 1000 steps");
            assertEquals(S * S, many[1], 0.03 * S * S, what + " variance with 1000 steps");
        }
    }

    /** {mean, variance} of the loop's output when x starts as N(0, initNoiseSigma²), propagated in double. */
    static double[] propagate(SamplerKind kind, double eta, NoiseSchedule schedule, int steps) {
        try (DiffusionSampler sm = sampler(kind, eta, schedule, 1, steps, 0)) {
            double mean = 0, var = sm.initNoiseSigma() * sm.initNoiseSigma();
            for (int i = 0; i < steps; i++) {
                double m0 = toyPrediction(sm, 0), slope = toyPrediction(sm, 1) - m0;
                double[] c = sm.coefficients(i, false);
                double gain = c[0] + c[1] * slope;
                mean = gain * mean + c[1] * m0;
                var = gain * gain * var + c[3] * c[3];
                sm.advance();
            }
            return new double[] {mean, var};
        }
    }

    /** The exact prediction of the N(MU, S²) data's denoiser at the sampler's current step for a latent value x. */
    static double toyPrediction(DiffusionSampler sm, double x) {
        double[] av = vp(sm, sm.stepIndex());
        double a = av[0], s = av[1], xv = x * sm.modelInputScale(), v = a * a * S * S + s * s;
        double ex0 = MU + a * S * S * (xv - a * MU) / v, eps = s * (xv - a * MU) / v;
        return switch (sm.config().prediction()) {
            case EPSILON -> eps;
            case V_PREDICTION -> a * eps - s * ex0;
            case SAMPLE -> ex0;
            case FLOW -> eps - ex0;
        };
    }

    /** RMS distance of a deterministic sampler's output from the exact probability-flow ODE solution. */
    static double odeError(Device device, SamplerKind kind, NoiseSchedule schedule, float[] z, int n, int len, int steps) {
        try (DiffusionSampler sm = sampler(kind, 0, schedule, n, steps, 1)) {
            double[] target = new double[z.length];
            double x0Scale = sm.initNoiseSigma(), cin = sm.modelInputScale();
            double[] ab = vp(sm, 0);
            for (int e = 0; e < z.length; e++) {
                double xv = kind == SamplerKind.FLOW_EULER ? z[e] : z[e] * x0Scale * cin;  // x in the VP (or flow) form
                double xi = kind == SamplerKind.FLOW_EULER ? xv : (xv - ab[0] * MU) / Math.sqrt(ab[0] * ab[0] * S * S + ab[1] * ab[1]);
                target[e] = MU + S * xi;  // the probability flow keeps the standardized coordinate
            }
            float[] out = loop(device, sm, z, n, len);
            double err = 0;
            for (int e = 0; e < z.length; e++) err += (out[e] - target[e]) * (out[e] - target[e]);
            return Math.sqrt(err / z.length);
        }
    }

    static float[] run(Device device, SamplerKind kind, double eta, NoiseSchedule schedule, float[] z, int n, int len, int steps, long seed) {
        try (DiffusionSampler sm = sampler(kind, eta, schedule, n, steps, seed)) {
            return loop(device, sm, z, n, len);
        }
    }

    static DiffusionSampler sampler(SamplerKind kind, double eta, NoiseSchedule schedule, int n, int steps, long seed) {
        SamplerConfig c = SamplerConfig.of(kind, loopPrediction(kind), steps);
        if (eta != 0) c = c.withEta(eta);
        return DiffusionSampler.create(c, schedule, n, seed);
    }

    /** (α, σ) of the VP form at step i (for flow: (1 − t, t)). */
    static double[] vp(DiffusionSampler sm, int i) {
        return switch (sm.kind()) {
            case DDPM, DDIM -> new double[] {Math.sqrt(sm.alphaCumprod(i)), Math.sqrt(1 - sm.alphaCumprod(i))};
            case FLOW_EULER -> new double[] {1 - sm.sigmas()[i], sm.sigmas()[i]};
            default -> {
                double s = sm.sigmas()[i], a = 1 / Math.sqrt(1 + s * s);
                yield new double[] {a, s * a};
            }
        };
    }

    /** Runs the whole loop with the exact denoiser of N(MU, S²) as the model; guidance 4 with cond = uncond (a no-op). */
    static float[] loop(Device device, DiffusionSampler sm, float[] z, int n, int len) {
        float[] init = new float[z.length];
        for (int e = 0; e < z.length; e++) init[e] = (float) (z[e] * sm.initNoiseSigma());
        try (Tensor x = Tensor.of(device, DType.F32, init, n, len)) {
            while (!sm.done()) {
                float[] xh = x.toFloatArray(), m = new float[2 * z.length];
                for (int e = 0; e < z.length; e++) m[e] = m[z.length + e] = (float) toyPrediction(sm, xh[e]);
                try (Tensor tm = Tensor.of(device, DType.F32, m, 2 * n, len)) {
                    sm.step(x, tm, Guidance.of(4));
                }
            }
            return x.toFloatArray();
        }
    }
}
