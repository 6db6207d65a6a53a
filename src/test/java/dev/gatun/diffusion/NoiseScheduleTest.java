package dev.gatun.diffusion;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Schedules against values computed here independently (double), and diffusers' spacings written out by hand. */
class NoiseScheduleTest {
    @Test
    void linearAndScaledLinearBetasAndAlphasCumprod() {
        NoiseSchedule lin = NoiseSchedule.of(NoiseSchedule.BetaSchedule.LINEAR, 1000, 1e-4, 0.02);
        double[] b = lin.betas(), ab = lin.alphasCumprod(), sg = lin.sigmas();
        assertEquals(1e-4, b[0], 1e-18);
        assertEquals(0.02, b[999], 1e-15);
        assertEquals(1e-4 + 500 * (0.02 - 1e-4) / 999, b[500], 1e-15);
        double prod = 1;
        for (int t = 0; t < 1000; t++) {
            prod *= 1 - (1e-4 + t * (0.02 - 1e-4) / 999);
            assertEquals(prod, ab[t], 1e-12 * Math.max(prod, 1e-6), "alphas_cumprod[" + t + "]");
            assertEquals(Math.sqrt((1 - prod) / prod), sg[t], 1e-9 * sg[t]);
        }
        assertEquals(4.0358e-5, ab[999], 1e-8, "the DDPM schedule ends near zero signal");

        NoiseSchedule sd = NoiseSchedule.stableDiffusion();
        double s0 = Math.sqrt(0.00085), s1 = Math.sqrt(0.012);
        assertEquals(0.00085, sd.betas()[0], 1e-15);
        assertEquals(Math.pow(s0 + (s1 - s0) * 250 / 999, 2), sd.betas()[250], 1e-15);
        assertEquals(0.012, sd.betas()[999], 1e-15);
        assertEquals(14.6146, sd.sigmas()[999], 1e-3, "SD's sigma_max (k-diffusion's well-known 14.6146)");
        assertEquals(0.0292, sd.sigmas()[0], 1e-4, "SD's sigma_min");
    }

    @Test
    void cosineScheduleFollowsNicholDhariwal() {
        NoiseSchedule cos = NoiseSchedule.of(NoiseSchedule.BetaSchedule.SQUAREDCOS_CAP_V2, 1000, 0, 0);
        double[] b = cos.betas(), ab = cos.alphasCumprod();
        for (int t : new int[] {0, 1, 500, 998, 999}) {
            double f1 = Math.pow(Math.cos(((double) t / 1000 + 0.008) / 1.008 * Math.PI / 2), 2);
            double f2 = Math.pow(Math.cos(((t + 1.0) / 1000 + 0.008) / 1.008 * Math.PI / 2), 2);
            assertEquals(Math.min(1 - f2 / f1, 0.999), b[t], 1e-15, "beta " + t);
        }
        assertEquals(0.999, b[999], 0, "capped");
        // away from the cap, alphas_cumprod telescopes to alpha_bar(t+1)/alpha_bar(0)
        double f0 = Math.pow(Math.cos(0.008 / 1.008 * Math.PI / 2), 2);
        assertEquals(Math.pow(Math.cos((501.0 / 1000 + 0.008) / 1.008 * Math.PI / 2), 2) / f0, ab[500], 1e-12);
    }

    @Test
    void timestepSpacingsAsDiffusers() {
        NoiseSchedule s = NoiseSchedule.stableDiffusion();
        assertArrayEquals(new double[] {900, 800, 700, 600, 500, 400, 300, 200, 100, 0}, s.timesteps(10, NoiseSchedule.Spacing.LEADING, 0));
        assertArrayEquals(new double[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, s.timesteps(10, NoiseSchedule.Spacing.LEADING, 1));
        assertArrayEquals(new double[] {999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, s.timesteps(10, NoiseSchedule.Spacing.TRAILING, 0));
        assertArrayEquals(new double[] {999, 666, 333, 0}, s.timesteps(4, NoiseSchedule.Spacing.LINSPACE, 0), 1e-12);
        // trailing with T % N != 0: round(1000 - i*1000/3) - 1
        assertArrayEquals(new double[] {999, 666, 332}, s.timesteps(3, NoiseSchedule.Spacing.TRAILING, 0));
        assertArrayEquals(new double[] {0}, s.timesteps(1, NoiseSchedule.Spacing.LEADING, 0));
    }

    @Test
    void sigmaInterpolationKarrasAndFlow() {
        NoiseSchedule s = NoiseSchedule.stableDiffusion();
        double[] sg = s.sigmas();
        assertEquals(0.25 * sg[10] + 0.75 * sg[11], s.sigmaAt(10.75), 1e-12);
        assertEquals(10.75, s.timestepOf(Math.exp(0.25 * Math.log(sg[10]) + 0.75 * Math.log(sg[11]))), 1e-9);
        assertEquals(999, s.timestepOf(1e6), 0, "clamped");
        assertEquals(0, s.timestepOf(1e-6), 0, "clamped");

        double[] k = NoiseSchedule.karrasSigmas(0.03, 14.6, 5, 7);
        assertEquals(14.6, k[0], 1e-12);
        assertEquals(0.03, k[4], 1e-12);
        double a = Math.pow(14.6, 1 / 7.0), b = Math.pow(0.03, 1 / 7.0);
        assertEquals(Math.pow(a + 0.5 * (b - a), 7), k[2], 1e-12);

        double[] f = NoiseSchedule.flowSigmas(4, 3.0);
        assertEquals(5, f.length);
        assertEquals(1.0, f[0], 1e-15, "shift keeps sigma 1 at 1");
        assertEquals(3 * 0.5 / (1 + 2 * 0.5), f[2], 1e-15);
        assertEquals(3 * 0.25 / (1 + 2 * 0.25), f[3], 1e-15);
        assertEquals(0, f[4]);
        assertArrayEquals(new double[] {1, 0.75, 0.5, 0.25, 0}, NoiseSchedule.flowSigmas(4, 1), 1e-15);
    }

    /**
     * Each sampler's timesteps, σs and ᾱs are the schedule's at the spaced timesteps: integer
     * timesteps for DDPM/DDIM and DPM++ 2M, fractional ones (σ interpolated) for Euler, Karras σs
     * mapped back to timesteps, σ times the training steps for flow matching; and the initial
     * noise scale.
     */
    @Test
    void eachSamplerTakesItsStepsFromTheSchedule() {
        NoiseSchedule sd = NoiseSchedule.stableDiffusion();
        int n = 7;  // linspace over 999 in 6 intervals: fractional timesteps
        double[] t = sd.timesteps(n, NoiseSchedule.Spacing.LINSPACE, 0);
        assertTrue(t[1] != Math.rint(t[1]), "the spacing gives fractional timesteps");
        for (SamplerKind kind : new SamplerKind[] {SamplerKind.EULER, SamplerKind.DPMPP_2M})
            for (boolean karras : new boolean[] {false, true}) {
                SamplerConfig cfg = SamplerConfig.of(kind, PredictionType.EPSILON, n).withSpacing(NoiseSchedule.Spacing.LINSPACE, 0).withKarras(karras);
                DiffusionSampler sm = DiffusionSampler.create(cfg, sd, 1, 0);
                double[] ts = sm.timesteps(), sg = sm.sigmas();
                String what = kind + (karras ? " karras" : "");
                assertEquals(n + 1, sg.length, what);
                assertEquals(0, sg[n], 0, what + ": the last sigma");
                double[] expected = karras ? NoiseSchedule.karrasSigmas(sd.sigmaAt(t[n - 1]), sd.sigmaAt(t[0]), n, 7.0) : null;
                for (int i = 0; i < n; i++) {
                    double ti = karras ? sd.timestepOf(expected[i]) : kind == SamplerKind.DPMPP_2M ? Math.rint(t[i]) : t[i];
                    assertEquals(ti, ts[i], 1e-9, what + " timestep " + i);
                    assertEquals(karras ? expected[i] : sd.sigmaAt(ti), sg[i], 1e-12 * sg[i], what + " sigma " + i);
                }
                // Euler works on σ-scaled latents; DPM++ on the VP latents (diffusers: init_noise_sigma 1)
                assertEquals(kind.sigmaSpace() ? Math.sqrt(sg[0] * sg[0] + 1) : 1, sm.initNoiseSigma(), 1e-12, what + ": init noise sigma");
            }
        DiffusionSampler ddim = DiffusionSampler.create(SamplerConfig.of(SamplerKind.DDIM, PredictionType.EPSILON, n)
                .withSpacing(NoiseSchedule.Spacing.LINSPACE, 0), sd, 1, 0);
        for (int i = 0; i < n; i++) {
            assertEquals(Math.rint(t[i]), ddim.timesteps()[i], 0, "DDIM timestep " + i);
            assertEquals(sd.alphaCumprod((int) Math.rint(t[i])), ddim.alphaCumprod(i), 0, "DDIM alpha_cumprod " + i);
            assertEquals(i + 1 < n ? sd.alphaCumprod((int) Math.rint(t[i + 1])) : 1, ddim.alphaCumprodNext(i), 0, "DDIM target alpha_cumprod " + i);
        }
        assertEquals(1, ddim.initNoiseSigma(), 0);
        for (NoiseSchedule schedule : new NoiseSchedule[] {null, NoiseSchedule.of(NoiseSchedule.BetaSchedule.LINEAR, 500, 1e-4, 0.02)}) {
            DiffusionSampler flow = DiffusionSampler.create(SamplerConfig.of(SamplerKind.FLOW_EULER, PredictionType.FLOW, n).withFlowShift(3), schedule, 1, 0);
            double[] fs = NoiseSchedule.flowSigmas(n, 3);
            int trainSteps = schedule == null ? 1000 : 500;
            for (int i = 0; i < n; i++) assertEquals(fs[i] * trainSteps, flow.timesteps()[i], 1e-9, "flow timestep " + i + " of " + trainSteps);
            assertEquals(1, flow.initNoiseSigma(), 0);
        }
    }

    @Test
    void badArgumentsAreRejectedWithClearMessages() {
        assertMessage("trainSteps must be >= 2", () -> NoiseSchedule.of(NoiseSchedule.BetaSchedule.LINEAR, 1, 1e-4, 0.02));
        assertMessage("betaStart and betaEnd must be in (0, 1)", () -> NoiseSchedule.of(NoiseSchedule.BetaSchedule.LINEAR, 10, 0, 0.02));
        NoiseSchedule s = NoiseSchedule.stableDiffusion();
        assertMessage("inference steps must be >= 1", () -> s.timesteps(0, NoiseSchedule.Spacing.LEADING, 0));
        assertMessage("cannot exceed", () -> s.timesteps(1001, NoiseSchedule.Spacing.LEADING, 0));
        assertMessage("LEADING spacing only", () -> s.timesteps(10, NoiseSchedule.Spacing.TRAILING, 1));
        assertMessage("flow shift must be positive", () -> NoiseSchedule.flowSigmas(4, 0));
        assertMessage("outside", () -> s.sigmaAt(1000));
        assertMessage("FLOW_EULER needs prediction type FLOW", () -> SamplerConfig.of(SamplerKind.FLOW_EULER, PredictionType.EPSILON, 4));
        assertMessage("only for FLOW_EULER", () -> SamplerConfig.of(SamplerKind.DDIM, PredictionType.FLOW, 4));
        assertMessage("eta applies to DDIM only", () -> SamplerConfig.of(SamplerKind.EULER, PredictionType.EPSILON, 4).withEta(0.5));
        assertMessage("Karras sigmas apply", () -> SamplerConfig.of(SamplerKind.DDIM, PredictionType.EPSILON, 4).withKarras(true));
        assertMessage("inference steps must be >= 1", () -> SamplerConfig.of(SamplerKind.DDIM, PredictionType.EPSILON, 0));
        assertMessage("guidance scale must be a finite number", () -> Guidance.of(Double.NaN));
        assertMessage("guidance rescale must be in [0, 1]", () -> new Guidance(7.5, 1.5));
    }

    static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(fragment), () -> "message '" + ex.getMessage() + "' lacks '" + fragment + "'");
    }
}
