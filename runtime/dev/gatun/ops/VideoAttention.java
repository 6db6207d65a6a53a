package dev.gatun.ops;

import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * Spatio-temporal attention over video latents laid out {@code [B, T, S, H, D]} (T frames, S = h×w
 * patches per frame), read in place with strides: no permute or transpose copies. Three modes of
 * one kernel (kernels/video_attention.cuh is the definition):
 * <ul>
 *   <li>{@link #full}: all T·S tokens of a clip attend to each other, optionally behind a text
 *       prefix ({@code [B, L, H, D]}) that attends and is attended (MM-DiT / CogVideoX joint attention);</li>
 *   <li>{@link #spatial}: each frame within itself (B·T sequences of S tokens);</li>
 *   <li>{@link #temporal}: each patch position across frames (B·S sequences of T tokens), optionally
 *       causal over frames; short sequences are packed several to a GPU block.</li>
 * </ul>
 * q, out: {@code [B, T, S, H, D]}; k, v: {@code [B, T, S, Hkv, D]}; query head h reads kv head
 * {@code h / (H / Hkv)}. fp32/fp16/bf16 storage with fp32 math; head dims multiples of 8 up to
 * {@value Attention#MAX_HEAD_DIM}. Each output row equals {@link Attention#prefill} run on the
 * gathered contiguous sequence, bit for bit on the emu and cpu devices.
 */
public final class VideoAttention {
    /** Most tokens of one sequence (text + video): the kernels index tokens of a sequence with int. */
    static final long MAX_SEQUENCE = 1L << 30;

    private VideoAttention() {}

    /**
     * Validated arguments as the backends receive them: sequence z's token i is text row
     * {@code z*textLen + i} when {@code i < textLen}, else video token row
     * {@code (z / per)*outer + (z % per)*inner + (i - textLen)*step}. Text tensors are null when textLen is 0.
     */
    record Call(Tensor q, Tensor k, Tensor v, Tensor out, Tensor textQ, Tensor textK, Tensor textV, Tensor textOut,
                int numSeq, int textLen, int seqLen, int per, long outer, long inner, long step,
                int qHeads, int kvHeads, int headDim, float scale, boolean causal) {}

    /** Full 3D attention over all T·S tokens of each clip. q, out: [B, T, S, H, D]; k, v: [B, T, S, Hkv, D] (GQA: H multiple of Hkv). */
    public static void full(Tensor q, Tensor k, Tensor v, Tensor out, float scale) {
        int[] d = video("full", q, k, v, out, scale);
        long ts = (long) d[1] * d[2];
        run(new Call(q, k, v, out, null, null, null, null, d[0], 0, (int) ts, 1, ts, 0, 1, d[3], d[4], d[5], scale, false));
    }

    /** Joint attention: text tokens [B, L, H(kv), D] prefix the video tokens in one sequence of L + T·S; writes out and textOut [B, L, H, D]. */
    public static void full(Tensor q, Tensor k, Tensor v, Tensor textQ, Tensor textK, Tensor textV, Tensor out, Tensor textOut,
                            float scale) {
        String op = "full";
        int[] d = video(op, q, k, v, out, scale);
        if (textQ == null || textK == null || textV == null || textOut == null)
            throw new IllegalArgumentException(op + ": textQ, textK, textV and textOut are required (use full(q, k, v, out, scale) without text)");
        if (textQ.rank() != 4)
            throw new IllegalArgumentException(op + ": textQ must be [B, L, H, D], got " + textQ);
        long textLen = textQ.shape(1);
        long[] qShape = {d[0], textLen, d[3], d[5]}, kvShape = {d[0], textLen, d[4], d[5]};
        requireShaped(op, "textQ", textQ, qShape, q);
        requireShaped(op, "textK", textK, kvShape, q);
        requireShaped(op, "textV", textV, kvShape, q);
        requireShaped(op, "textOut", textOut, qShape, q);
        long ts = (long) d[1] * d[2];
        if (textLen == 0) {  // nothing to prefix: plain full attention
            run(new Call(q, k, v, out, null, null, null, null, d[0], 0, (int) ts, 1, ts, 0, 1, d[3], d[4], d[5], scale, false));
            return;
        }
        if (textLen + ts > MAX_SEQUENCE)
            throw new IllegalArgumentException(op + ": " + textLen + " text + " + ts + " video tokens exceed " + MAX_SEQUENCE + " per sequence");
        run(new Call(q, k, v, out, textQ, textK, textV, textOut, d[0], (int) textLen, (int) ts, 1, ts, 0, 1, d[3], d[4], d[5],
                scale, false));
    }

    /** Each frame attends within itself: B·T sequences of length S. */
    public static void spatial(Tensor q, Tensor k, Tensor v, Tensor out, float scale) {
        int[] d = video("spatial", q, k, v, out, scale);
        run(new Call(q, k, v, out, null, null, null, null, d[0] * d[1], 0, d[2], 1, d[2], 0, 1, d[3], d[4], d[5], scale, false));
    }

    /** Each spatial position attends across frames: B·S sequences of length T; causal masks future frames. */
    public static void temporal(Tensor q, Tensor k, Tensor v, Tensor out, boolean causal, float scale) {
        int[] d = video("temporal", q, k, v, out, scale);
        run(new Call(q, k, v, out, null, null, null, null, d[0] * d[2], 0, d[1], d[2], (long) d[1] * d[2], 1, d[2],
                d[3], d[4], d[5], scale, causal));
    }

    private static void run(Call c) {
        if (c.numSeq() == 0) return;
        Backends.of(c.q().device()).videoAttention(c);
    }

    /** Checks the video tensors and returns {B, T, S, H, Hkv, D}. */
    private static int[] video(String op, Tensor q, Tensor k, Tensor v, Tensor out, float scale) {
        if (q == null || k == null || v == null || out == null)
            throw new IllegalArgumentException(op + ": q, k, v and out are required");
        if (q.rank() != 5 || !q.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op + ": q must be an fp32/fp16/bf16 tensor [B, T, S, H, D], got " + q);
        long b = q.shape(0), t = q.shape(1), s = q.shape(2), h = q.shape(3), dim = q.shape(4);
        if (t < 1 || s < 1 || h < 1)
            throw new IllegalArgumentException(op + ": q needs >= 1 frame, patch and head, got " + q);
        if (dim < 8 || dim % 8 != 0 || dim > Attention.MAX_HEAD_DIM)
            throw new IllegalArgumentException(op + ": head dim must be a multiple of 8 up to " + Attention.MAX_HEAD_DIM + ", got " + dim);
        if (k.rank() != 5)
            throw new IllegalArgumentException(op + ": k must be [B, T, S, Hkv, D], got " + k);
        long hkv = k.shape(3);
        long[] kvShape = {b, t, s, hkv, dim};
        requireShaped(op, "q", q, q.shape(), q);
        requireShaped(op, "k", k, kvShape, q);
        requireShaped(op, "v", v, kvShape, q);
        requireShaped(op, "out", out, q.shape(), q);
        if (hkv < 1 || h % hkv != 0)
            throw new IllegalArgumentException(op + ": " + h + " query heads over " + hkv + " kv heads: query heads must be a multiple of kv heads");
        if (b * t * s > Integer.MAX_VALUE || t * s > MAX_SEQUENCE || h > 65535)
            throw new IllegalArgumentException(op + ": " + Arrays.toString(q.shape()) + " is too large (at most 2^31 - 1 tokens, 2^30 per clip, 65535 heads)");
        if (!(scale > 0) || !Float.isFinite(scale))
            throw new IllegalArgumentException(op + ": scale must be positive and finite, got " + scale);
        return new int[] {(int) b, (int) t, (int) s, (int) h, (int) hkv, (int) dim};
    }

    /** {@code t} is contiguous, shaped {@code shape}, 16-byte aligned, on q's device with q's dtype. */
    private static void requireShaped(String op, String name, Tensor t, long[] shape, Tensor q) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (!Arrays.equals(t.shape(), shape) || !t.isContiguous())
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous tensor " + Arrays.toString(shape) + ", got " + t);
        if (t.device() != q.device())
            throw new IllegalArgumentException(op + ": all tensors must be on one device; " + q + " and " + t);
        if (t.dtype() != q.dtype())
            throw new IllegalArgumentException(op + ": all tensors must have one dtype; " + q + " and " + t);
        if (t.numel() > 0 && t.dataAddress() % 16 != 0)
            throw new IllegalArgumentException(op + ": " + name + " " + t + " must start 16-byte aligned (vector loads)");
    }
}
