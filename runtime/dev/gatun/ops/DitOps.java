package dev.gatun.ops;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The ops a diffusion transformer (DiT, Peebles &amp; Xie 2023) needs besides GEMMs and attention
 * (kernels/dit.cuh defines each): adaLN modulation, the gated residual, 3D patchify/unpatchify of a
 * latent video, and the sinusoidal timestep embedding. Activations are {@code [B, N, D]} (N tokens
 * per batch element); the per-element modulation vectors ({@code shift}, {@code scale}, {@code gate})
 * are {@code [B, D]} with a contiguous last dimension and any row stride, so they can be column views
 * of one {@code [B, 6D]} adaLN projection. fp32/fp16/bf16 storage, fp32 math.
 */
public final class DitOps {
    private DitOps() {}

    /** Validated shape of a modulated op: rows = B·N, cols = D, modStride = the modulation vectors' row stride. */
    record Modulated(Tensor x, Tensor out, long rows, long cols, long rowsPerBatch, long modStride) {}

    /** A latent {@code [batch, channels, frames, height, width]} cut into {@code pt × ph × pw} patches. */
    public record Patches(long batch, long channels, long frames, long height, long width, int pt, int ph, int pw) {
        public long tokensT() { return frames / pt; }

        public long tokensS() { return (height / ph) * (width / pw); }

        public long patchSize() { return channels * pt * ph * pw; }

        public long[] tokenShape() { return new long[] {batch, tokensT(), tokensS(), patchSize()}; }

        public long[] latentShape() { return new long[] {batch, channels, frames, height, width}; }

        /** The patches of {@code latent}, or one sentence saying why its shape cannot be cut into them. */
        public static Patches of(String op, long[] latent, int pt, int ph, int pw) {
            if (latent.length != 5)
                throw new IllegalArgumentException(op + ": the latent must be [batch, channels, frames, height, width], got " + Arrays.toString(latent));
            if (pt < 1 || ph < 1 || pw < 1)
                throw new IllegalArgumentException(op + ": patch sizes must be >= 1, got " + pt + "×" + ph + "×" + pw);
            if (latent[1] < 1 || latent[2] < 1 || latent[3] < 1 || latent[4] < 1)
                throw new IllegalArgumentException(op + ": the latent needs at least one channel, frame, row and column, got " + Arrays.toString(latent));
            if (latent[2] % pt != 0 || latent[3] % ph != 0 || latent[4] % pw != 0)
                throw new IllegalArgumentException(op + ": frames × height × width " + latent[2] + "×" + latent[3] + "×" + latent[4]
                        + " must be multiples of the patch size " + pt + "×" + ph + "×" + pw);
            return new Patches(latent[0], latent[1], latent[2], latent[3], latent[4], pt, ph, pw);
        }
    }

    /** {@code out = LayerNorm(x) · (1 + scale_b) + shift_b} (LayerNorm without affine, biased variance); {@code out} may be x. */
    public static void adaLayerNorm(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
        String op = "adaLayerNorm";
        Modulated m = modulated(op, x, out, shift, scale);
        requireSameVectorStride(op, "shift", shift, "scale", scale);
        if (!(eps > 0) || !Float.isFinite(eps)) throw new IllegalArgumentException(op + ": eps must be a positive finite number, got " + eps);
        if (m.rows() > 0) Backends.of(x.device()).adaLayerNorm(m, shift, scale, eps);
    }

    /** {@code out = x + gate_b · y} (the DiT's gated residual); {@code out} may be x. */
    public static void gatedResidual(Tensor x, Tensor gate, Tensor y, Tensor out) {
        String op = "gatedResidual";
        Modulated m = modulated(op, x, out, gate);
        if (y.device() != x.device() || y.dtype() != x.dtype() || !Arrays.equals(y.shape(), x.shape()) || !y.isContiguous())
            throw new IllegalArgumentException(op + ": y must be a contiguous tensor like x (" + describe(x) + "), got " + describe(y));
        if (m.rows() > 0) Backends.of(x.device()).gatedResidual(m, gate, y);
    }

    /** Latent {@code [B, C, F, H, W]} into a new token tensor {@code [B, F/pt, (H/ph)·(W/pw), C·pt·ph·pw]}. */
    public static Tensor patchify(Tensor latent, int pt, int ph, int pw) {
        Patches p = Patches.of("patchify", latent.shape(), pt, ph, pw);
        Tensor tokens = Tensor.empty(latent.device(), latent.dtype(), p.tokenShape());
        try {
            patchify(latent, tokens, pt, ph, pw);
            return tokens;
        } catch (RuntimeException e) {
            tokens.close();
            throw e;
        }
    }

    /**
     * Latent {@code [B, C, F, H, W]} into {@code tokens [B, T, S, C·pt·ph·pw]}: token s = hi·(W/pw) + wi of
     * frame group t, features ordered (c, dt, dh, dw) like a Conv3d weight, so the patch embedding is a linear.
     */
    public static void patchify(Tensor latent, Tensor tokens, int pt, int ph, int pw) {
        Patches p = Patches.of("patchify", latent.shape(), pt, ph, pw);
        requireMove("patchify", latent, "tokens", tokens, p.tokenShape());
        if (latent.numel() > 0) Backends.of(latent.device()).patchify(latent, tokens, p, true);
    }

    /** The inverse of {@link #patchify}: tokens back into {@code latent [B, C, F, H, W]}, whose shape gives the geometry. */
    public static void unpatchify(Tensor tokens, Tensor latent, int pt, int ph, int pw) {
        Patches p = Patches.of("unpatchify", latent.shape(), pt, ph, pw);
        requireMove("unpatchify", latent, "tokens", tokens, p.tokenShape());
        if (latent.numel() > 0) Backends.of(latent.device()).patchify(tokens, latent, p, false);
    }

    /**
     * The sinusoidal timestep embedding of DiT / ADM: {@code out [n, dim] = [cos(t·f_j) | sin(t·f_j)]},
     * {@code f_j = maxPeriod^(−j/(dim/2))}, j &lt; dim/2 (an odd dim's last column is 0), for fp32 {@code t [n]}.
     */
    public static void timestepEmbedding(Tensor t, float maxPeriod, Tensor out) {
        String op = "timestepEmbedding";
        if (t.dtype() != DType.F32 || t.rank() != 1 || !t.isContiguous())
            throw new IllegalArgumentException(op + ": t must be a contiguous fp32 vector of timesteps, got " + describe(t));
        if (!out.dtype().isFloatingPoint() || out.rank() != 2 || out.shape(0) != t.shape(0) || out.shape(1) < 1 || !out.isContiguous())
            throw new IllegalArgumentException(op + ": out must be a contiguous floating-point [" + t.shape(0) + ", dim >= 1] tensor, got " + describe(out));
        if (out.device() != t.device())
            throw new IllegalArgumentException(op + ": t and out must be on one device; t is on " + t.device() + ", out on " + out.device());
        if (!(maxPeriod > 0) || !Float.isFinite(maxPeriod))
            throw new IllegalArgumentException(op + ": maxPeriod must be a positive finite number, got " + maxPeriod);
        if (out.numel() > 0) Backends.of(t.device()).timestepEmbedding(t, out, maxPeriod);
    }

    private static Modulated modulated(String op, Tensor x, Tensor out, Tensor... vectors) {
        if (!x.dtype().isFloatingPoint() || x.rank() != 3 || !x.isContiguous())
            throw new IllegalArgumentException(op + ": x must be a contiguous fp32, fp16 or bf16 tensor [batch, tokens, dim], got " + describe(x));
        if (out.device() != x.device() || out.dtype() != x.dtype() || !Arrays.equals(out.shape(), x.shape()) || !out.isContiguous())
            throw new IllegalArgumentException(op + ": out must be a contiguous tensor like x (" + describe(x) + "), got " + describe(out));
        long batch = x.shape(0), tokens = x.shape(1), dim = x.shape(2);
        if (dim < 1) throw new IllegalArgumentException(op + ": x's last dimension must be >= 1, got " + describe(x));
        for (Tensor v : vectors) {
            if (v.device() != x.device() || v.dtype() != x.dtype() || v.rank() != 2 || v.shape(0) != batch || v.shape(1) != dim
                    || v.stride(1) != 1 || (batch > 1 && v.stride(0) < dim))
                throw new IllegalArgumentException(op + ": modulation vectors must be " + x.dtype() + " [" + batch + ", " + dim
                        + "] on " + x.device() + " with a contiguous last dimension, got " + describe(v) + " strides " + Arrays.toString(v.strides()));
        }
        long stride = batch > 1 ? vectors[0].stride(0) : dim;
        return new Modulated(x, out, batch * tokens, dim, Math.max(1, tokens), stride);
    }

    private static void requireSameVectorStride(String op, String an, Tensor a, String bn, Tensor b) {
        if (a.shape(0) > 1 && a.stride(0) != b.stride(0))
            throw new IllegalArgumentException(op + ": " + an + " and " + bn + " must have one row stride, got " + a.stride(0) + " and " + b.stride(0));
    }

    private static void requireMove(String op, Tensor latent, String name, Tensor tokens, long[] tokenShape) {
        if (!latent.dtype().isFloatingPoint() || !latent.isContiguous())
            throw new IllegalArgumentException(op + ": the latent must be a contiguous fp32, fp16 or bf16 tensor, got " + describe(latent));
        if (tokens.device() != latent.device() || tokens.dtype() != latent.dtype() || !Arrays.equals(tokens.shape(), tokenShape) || !tokens.isContiguous())
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous " + latent.dtype() + " " + Arrays.toString(tokenShape)
                    + " on " + latent.device() + ", got " + describe(tokens));
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Arrays.toString(t.shape());
    }
}
