package dev.gatun.diffusion;

/**
 * Classifier-free guidance (Ho &amp; Salimans 2022): guided = uncond + scale·(cond − uncond), and
 * optionally the guidance rescale of Lin et al. 2023 (eq. 15–16, diffusers {@code guidance_rescale}):
 * guided ← rescale·guided·std(cond)/std(guided) + (1 − rescale)·guided, per sample.
 * With guidance the model batch is {@code [cond | uncond]}: 2N rows, the first N conditional.
 */
public record Guidance(double scale, double rescale) {
    public Guidance {
        if (!Double.isFinite(scale) || Math.abs(scale) > Float.MAX_VALUE)
            throw new IllegalArgumentException("guidance scale must be a finite number, got " + scale);
        if (!(rescale >= 0 && rescale <= 1)) throw new IllegalArgumentException("guidance rescale must be in [0, 1], got " + rescale);
    }

    /** Guidance without rescale. */
    public static Guidance of(double scale) { return new Guidance(scale, 0); }
}
