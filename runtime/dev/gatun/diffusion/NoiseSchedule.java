package dev.gatun.diffusion;

/**
 * A discrete training noise schedule (variance-preserving, x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, t = 0..T−1)
 * and the helpers that turn it into inference timesteps and sigmas, as the diffusers scheduler family
 * defines them (all in double):
 * <ul>
 * <li>betas: {@link BetaSchedule#LINEAR} β_t = linspace(β_start, β_end, T);
 *     {@link BetaSchedule#SCALED_LINEAR} β_t = linspace(√β_start, √β_end, T)² (Stable Diffusion);
 *     {@link BetaSchedule#SQUAREDCOS_CAP_V2} the cosine schedule of Nichol &amp; Dhariwal 2021:
 *     β_t = min(1 − ᾱ(t+1/T)/ᾱ(t/T), 0.999) with ᾱ(u) = cos²((u + 0.008)/1.008 · π/2).</li>
 * <li>ᾱ_t = Π_{s ≤ t}(1 − β_s); σ_t = √((1 − ᾱ_t)/ᾱ_t) (the k-diffusion / Karras sigma of step t).</li>
 * <li>{@link #timesteps}: the inference timesteps for N steps, descending, by diffusers'
 *     {@code timestep_spacing} (see {@link Spacing}).</li>
 * <li>{@link #karrasSigmas}: Karras et al. 2022 eq. 5, σ_i = (σ_max^{1/ρ} + i/(N−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ.</li>
 * <li>{@link #flowSigmas}: rectified-flow / flow-matching sigmas with the SD3/FLUX shift
 *     σ' = shift·σ / (1 + (shift − 1)·σ).</li>
 * </ul>
 */
public final class NoiseSchedule {
    /** How the training betas are laid out. */
    public enum BetaSchedule { LINEAR, SCALED_LINEAR, SQUAREDCOS_CAP_V2 }

    /**
     * diffusers' {@code timestep_spacing} (Lin et al. 2023, table 2), for T training and N inference steps:
     * <ul>
     * <li>{@code LEADING}: t_i = round(i·⌊T/N⌋) + offset, i = N−1..0 (Stable Diffusion's configs use offset 1);</li>
     * <li>{@code TRAILING}: t_i = round(T − i·T/N) − 1, i = 0..N−1 (starts at T−1, the recommended spacing);</li>
     * <li>{@code LINSPACE}: t_i = linspace(0, T−1, N) reversed (not rounded here; the VP samplers round it, as DDIM does).</li>
     * </ul>
     */
    public enum Spacing { LEADING, TRAILING, LINSPACE }

    private final BetaSchedule kind;
    private final double[] betas, alphasCumprod, sigmas, logSigmas;

    private NoiseSchedule(BetaSchedule kind, double[] betas) {
        this.kind = kind;
        this.betas = betas;
        int t = betas.length;
        alphasCumprod = new double[t];
        sigmas = new double[t];
        logSigmas = new double[t];
        double prod = 1;
        for (int i = 0; i < t; i++) {
            prod *= 1 - betas[i];
            alphasCumprod[i] = prod;
            sigmas[i] = Math.sqrt((1 - prod) / prod);
            logSigmas[i] = Math.log(sigmas[i]);
        }
    }

    /** A schedule of {@code trainSteps} betas; betaStart/betaEnd are ignored by the cosine schedule. */
    public static NoiseSchedule of(BetaSchedule kind, int trainSteps, double betaStart, double betaEnd) {
        if (kind == null) throw new IllegalArgumentException("NoiseSchedule: beta schedule is required");
        if (trainSteps < 2) throw new IllegalArgumentException("NoiseSchedule: trainSteps must be >= 2, got " + trainSteps);
        double[] b = new double[trainSteps];
        if (kind != BetaSchedule.SQUAREDCOS_CAP_V2) {
            if (!(betaStart > 0 && betaStart < 1 && betaEnd > 0 && betaEnd < 1))
                throw new IllegalArgumentException("NoiseSchedule: betaStart and betaEnd must be in (0, 1), got " + betaStart + " and " + betaEnd);
            for (int i = 0; i < trainSteps; i++) {
                double u = (double) i / (trainSteps - 1);
                b[i] = kind == BetaSchedule.LINEAR ? betaStart + u * (betaEnd - betaStart)
                        : Math.pow(Math.sqrt(betaStart) + u * (Math.sqrt(betaEnd) - Math.sqrt(betaStart)), 2);
            }
        } else {
            for (int i = 0; i < trainSteps; i++)
                b[i] = Math.min(1 - cosineAlphaBar((i + 1.0) / trainSteps) / cosineAlphaBar((double) i / trainSteps), 0.999);
        }
        return new NoiseSchedule(kind, b);
    }

    /** Stable Diffusion 1.x/2.x/XL: scaled_linear, 1000 steps, β from 0.00085 to 0.012. */
    public static NoiseSchedule stableDiffusion() { return of(BetaSchedule.SCALED_LINEAR, 1000, 0.00085, 0.012); }

    private static double cosineAlphaBar(double u) {
        double c = Math.cos((u + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    public BetaSchedule kind() { return kind; }

    public int trainSteps() { return betas.length; }

    public double[] betas() { return betas.clone(); }

    public double[] alphasCumprod() { return alphasCumprod.clone(); }

    /** σ_t = √((1 − ᾱ_t)/ᾱ_t) for every training step t. */
    public double[] sigmas() { return sigmas.clone(); }

    /** ᾱ_t at an integer training step. */
    public double alphaCumprod(int t) {
        if (t < 0 || t >= betas.length) throw new IllegalArgumentException("timestep " + t + " is outside [0, " + betas.length + ")");
        return alphasCumprod[t];
    }

    /**
     * The {@code n} inference timesteps, descending. {@code offset} is diffusers' {@code steps_offset}
     * (LEADING only; 0 elsewhere). Leading and trailing are rounded to integers as diffusers does.
     */
    public double[] timesteps(int n, Spacing spacing, int offset) {
        int T = betas.length;
        if (n < 1) throw new IllegalArgumentException("inference steps must be >= 1, got " + n);
        if (n > T) throw new IllegalArgumentException("inference steps (" + n + ") cannot exceed the " + T + " training steps");
        if (spacing == null) throw new IllegalArgumentException("timestep spacing is required");
        if (offset != 0 && spacing != Spacing.LEADING) throw new IllegalArgumentException("steps offset applies to LEADING spacing only, got " + offset);
        double[] t = new double[n];
        switch (spacing) {
            case LEADING -> {
                int ratio = T / n;
                for (int i = 0; i < n; i++) t[i] = (double) (n - 1 - i) * ratio + offset;
                if (t[0] > T - 1) throw new IllegalArgumentException("steps offset " + offset + " puts the first timestep past " + (T - 1));
            }
            case TRAILING -> {
                double ratio = (double) T / n;
                for (int i = 0; i < n; i++) t[i] = Math.rint(T - i * ratio) - 1;
            }
            case LINSPACE -> {
                for (int i = 0; i < n; i++) t[i] = n == 1 ? 0 : (T - 1) * (double) (n - 1 - i) / (n - 1);
            }
        }
        return t;
    }

    /** σ at a (possibly fractional) timestep: linear interpolation of {@link #sigmas()} over t (numpy.interp). */
    public double sigmaAt(double t) {
        if (!(t >= 0 && t <= betas.length - 1)) throw new IllegalArgumentException("timestep " + t + " is outside [0, " + (betas.length - 1) + "]");
        int lo = (int) Math.floor(t);
        if (lo == betas.length - 1) return sigmas[lo];
        double w = t - lo;
        return sigmas[lo] * (1 - w) + sigmas[lo + 1] * w;
    }

    /** The fractional timestep of a sigma: linear interpolation in log σ (diffusers' {@code _sigma_to_t}), clamped to [0, T−1]. */
    public double timestepOf(double sigma) {
        if (!(sigma > 0) || !Double.isFinite(sigma)) throw new IllegalArgumentException("sigma must be positive and finite, got " + sigma);
        double ls = Math.log(sigma);
        int T = betas.length;
        int lo = 0;
        while (lo < T - 2 && logSigmas[lo + 1] <= ls) lo++;
        double w = (logSigmas[lo] - ls) / (logSigmas[lo] - logSigmas[lo + 1]);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * lo + w * (lo + 1);
    }

    /** Karras et al. 2022, eq. 5: n sigmas from sigmaMax down to sigmaMin (no trailing zero). */
    public static double[] karrasSigmas(double sigmaMin, double sigmaMax, int n, double rho) {
        if (n < 1) throw new IllegalArgumentException("inference steps must be >= 1, got " + n);
        if (!(sigmaMin > 0 && sigmaMax >= sigmaMin && Double.isFinite(sigmaMax)))
            throw new IllegalArgumentException("Karras sigmas need 0 < sigmaMin <= sigmaMax < inf, got " + sigmaMin + " and " + sigmaMax);
        if (!(rho > 0) || !Double.isFinite(rho)) throw new IllegalArgumentException("rho must be positive, got " + rho);
        double a = Math.pow(sigmaMax, 1 / rho), b = Math.pow(sigmaMin, 1 / rho);
        double[] s = new double[n];
        for (int i = 0; i < n; i++) s[i] = Math.pow(a + (n == 1 ? 0 : (double) i / (n - 1)) * (b - a), rho);
        return s;
    }

    /** The SD3/FLUX shift σ' = shift·σ / (1 + (shift − 1)·σ). */
    public static double shift(double sigma, double shift) {
        return shift * sigma / (1 + (shift - 1) * sigma);
    }

    /**
     * Flow-matching sigmas for n steps, n + 1 values: shift(1 − i/n) for i = 0..n−1 (the
     * {@code linspace(1, 1/n, n)} that the FLUX pipeline passes to diffusers'
     * FlowMatchEulerDiscreteScheduler, without dynamic shifting), then a final 0.
     */
    public static double[] flowSigmas(int n, double shift) {
        if (n < 1) throw new IllegalArgumentException("inference steps must be >= 1, got " + n);
        if (!(shift > 0) || !Double.isFinite(shift)) throw new IllegalArgumentException("flow shift must be positive and finite, got " + shift);
        double[] s = new double[n + 1];
        for (int i = 0; i < n; i++) s[i] = shift(1 - (double) i / n, shift);
        return s;
    }

    @Override
    public String toString() {
        return "NoiseSchedule[" + kind + ", T=" + betas.length + ", β=" + betas[0] + ".." + betas[betas.length - 1] + "]";
    }
}
