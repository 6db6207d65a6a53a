package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The fused diffusion sampler step (kernels/diffusion.cuh is the definition): classifier-free
 * guidance, optional guidance rescale, and one generic linear update per element of each sample
 * <pre>
 *   m  = cfg ? uncond + g·(cond − uncond) : model        (Ho &amp; Salimans 2022)
 *   m *= 1 − φ + φ·std(cond)/std(m)                     (guidance rescale, Lin et al. 2023, per sample; when φ &gt; 0)
 *   x' = a·x + b·m + c·prev + d·z                        (z ~ N(0,1): Philox(seed, step, element) + Box-Muller)
 *   x0 = p·x + q·m                                       (written to x0Out when given)
 * </pre>
 * with per-sample coefficients that {@code dev.gatun.diffusion} derives for each sampler in double.
 * Layouts: {@code x, prev, out, x0Out [n, ...]}; {@code model [n, ...]} without guidance, or
 * {@code [2n, ...]} with it: rows {@code 0..n-1} the <b>conditional</b> predictions, rows
 * {@code n..2n-1} the <b>unconditional</b> ones (sample s pairs rows s and s + n). Note diffusers
 * concatenates {@code [uncond, cond]}: the opposite order. fp32/fp16/bf16 storage, fp32 math.
 * {@code out} may be {@code x} and {@code x0Out} may be {@code prev} (in place); nothing else may overlap.
 */
public final class DiffusionOps {
    private DiffusionOps() {}

    /**
     * One sample's step: x' = a·x + b·m + c·prev + d·z, x0 = p·x + q·m; guidance scale g and rescale φ
     * (used only when the model batch is 2n); noise from Philox keyed by (seed, step).
     */
    public record SampleStep(double a, double b, double c, double d, double p, double q, double guidance, double rescale,
                             long seed, long step) {
        public SampleStep {
            double[] v = {a, b, c, d, p, q};
            for (int i = 0; i < v.length; i++)
                if (!Double.isFinite(v[i]) || Math.abs(v[i]) > Float.MAX_VALUE)
                    throw new IllegalArgumentException("diffusionStep: coefficient " + "abcdpq".charAt(i) + " must be a finite fp32 number, got " + v[i]);
            if (!Double.isFinite(guidance) || Math.abs(guidance) > Float.MAX_VALUE)
                throw new IllegalArgumentException("diffusionStep: guidance scale must be finite, got " + guidance);
            if (!(rescale >= 0 && rescale <= 1))
                throw new IllegalArgumentException("diffusionStep: guidance rescale must be in [0, 1], got " + rescale);
        }

        /** The same step with guidance scale g and rescale φ. */
        public SampleStep withGuidance(double g, double phi) { return new SampleStep(a, b, c, d, p, q, g, phi, seed, step); }
    }

    /** Validated arguments as the backends receive them; params [n, 8] fp32, factor [n] fp32 or null, seeds/steps [n] i64. */
    record StepCall(Tensor x, Tensor model, Tensor prev, Tensor out, Tensor x0Out, Tensor params, Tensor factor, Tensor seeds,
                    Tensor steps, long n, long len, boolean cfg) {}

    /**
     * Runs one step for the {@code n = x.shape(0)} samples of {@code x}; {@code prev} and {@code x0Out} may be null
     * (then the c term is skipped / x0 is not written). See the class comment for layouts and aliasing.
     */
    public static void step(Tensor x, Tensor model, Tensor prev, Tensor out, Tensor x0Out, SampleStep[] samples) {
        String op = "diffusionStep";
        if (x == null || model == null || out == null || samples == null)
            throw new IllegalArgumentException(op + ": x, model, out and samples are required");
        if (!x.dtype().isFloatingPoint() || x.rank() < 1)
            throw new IllegalArgumentException(op + ": x must be an fp32, fp16 or bf16 tensor [n, ...], got " + describe(x));
        long n = x.shape(0);
        long len = n == 0 ? 0 : x.numel() / n;
        if (samples.length != n)
            throw new IllegalArgumentException(op + ": x has " + n + " samples but " + samples.length + " sample steps were given");
        Device device = x.device();
        for (Tensor t : new Tensor[] {model, prev, out, x0Out})
            if (t != null && t.device() != device)
                throw new IllegalArgumentException(op + ": all tensors must be on one device; x is on " + device + ", another on " + t.device());
        requireLike(op, "out", x, out);
        if (prev != null) requireLike(op, "prev", x, prev);
        if (x0Out != null) requireLike(op, "x0Out", x, x0Out);
        long[] trailing = Arrays.copyOfRange(x.shape(), 1, x.rank());
        long[] modelTrailing = model.rank() < 1 ? null : Arrays.copyOfRange(model.shape(), 1, model.rank());
        boolean cfg = model.rank() >= 1 && model.shape(0) == 2 * n && n > 0;
        if (model.dtype() != x.dtype() || model.rank() != x.rank() || !Arrays.equals(trailing, modelTrailing)
                || !(model.shape(0) == n || model.shape(0) == 2 * n) || !model.isContiguous())
            throw new IllegalArgumentException(op + ": model must be a contiguous " + x.dtype() + " tensor [n or 2n, "
                    + Arrays.toString(trailing).replaceAll("[\\[\\]]", "") + "] with n = " + n + " (2n = [cond | uncond] for guidance), got "
                    + describe(model));
        requireContiguous(op, x, out, prev, x0Out);
        // aliasing: out may be x, x0Out may be prev; nothing else may overlap
        requireDisjoint(op, "out", out, "model", model);
        if (prev != null) requireDisjointUnlessSame(op, "out", out, "prev", prev, false);
        if (x0Out != null) {
            requireDisjointUnlessSame(op, "x0Out", x0Out, "x", x, false);
            requireDisjointUnlessSame(op, "x0Out", x0Out, "out", out, false);
            requireDisjoint(op, "x0Out", x0Out, "model", model);
        }
        requireDisjointUnlessSame(op, "out", out, "x", x, true);
        if (prev != null && x0Out != null) requireDisjointUnlessSame(op, "x0Out", x0Out, "prev", prev, true);
        if (n == 0) return;
        if (len > Integer.MAX_VALUE)
            throw new IllegalArgumentException(op + ": a sample may have at most 2^31 - 1 elements, got " + len);
        float[] params = new float[Math.toIntExact(8 * n)];
        long[] seeds = new long[(int) n], steps = new long[(int) n];
        boolean rescale = false;
        for (int s = 0; s < n; s++) {
            SampleStep st = samples[s];
            if (st == null) throw new IllegalArgumentException(op + ": sample step " + s + " is null");
            if (!cfg && st.rescale() != 0)
                throw new IllegalArgumentException(op + ": guidance rescale needs a [cond | uncond] model batch of 2n, got " + describe(model));
            float[] row = {(float) st.a(), (float) st.b(), (float) st.c(), (float) st.d(), (float) st.p(), (float) st.q(),
                    (float) st.guidance(), (float) st.rescale()};
            System.arraycopy(row, 0, params, 8 * s, 8);
            seeds[s] = st.seed();
            steps[s] = st.step();
            rescale |= cfg && st.rescale() > 0;
        }
        Backend backend = Backends.of(device);
        try (Tensor p = Tensor.of(device, DType.F32, params, n, 8); Tensor sd = Tensor.of(device, seeds, n);
             Tensor sp = Tensor.of(device, steps, n); Tensor factor = rescale ? Tensor.empty(device, DType.F32, n) : null) {
            if (rescale) backend.cfgRescale(model, p, factor, n, len);
            backend.diffusionStep(new StepCall(x, model, prev, out, x0Out, p, factor, sd, sp, n, len, cfg));
        }
    }

    private static void requireLike(String op, String name, Tensor x, Tensor t) {
        if (t.dtype() != x.dtype() || !Arrays.equals(t.shape(), x.shape()))
            throw new IllegalArgumentException(op + ": " + name + " must match x (" + describe(x) + "), got " + describe(t));
    }

    private static void requireContiguous(String op, Tensor... tensors) {
        for (Tensor t : tensors)
            if (t != null && !t.isContiguous())
                throw new IllegalArgumentException(op + ": tensors must be contiguous, got strides " + Arrays.toString(t.strides()));
    }

    private static boolean overlaps(Tensor a, Tensor b) {
        long as = a.dataAddress(), ae = as + a.numel() * a.dtype().byteSize();
        long bs = b.dataAddress(), be = bs + b.numel() * b.dtype().byteSize();
        return a.numel() > 0 && b.numel() > 0 && as < be && bs < ae;
    }

    private static void requireDisjoint(String op, String an, Tensor a, String bn, Tensor b) {
        if (overlaps(a, b)) throw new IllegalArgumentException(op + ": " + an + " must not overlap " + bn);
    }

    private static void requireDisjointUnlessSame(String op, String an, Tensor a, String bn, Tensor b, boolean sameAllowed) {
        if (!overlaps(a, b)) return;
        if (sameAllowed && a.dataAddress() == b.dataAddress()) return;
        throw new IllegalArgumentException(op + ": " + an + " must " + (sameAllowed ? "be exactly " + bn + " or not overlap it" : "not overlap " + bn));
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Arrays.toString(t.shape());
    }
}
