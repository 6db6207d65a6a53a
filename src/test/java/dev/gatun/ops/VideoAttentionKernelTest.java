package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.AttentionReference;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.gatun.testing.AttentionReference.toDouble;
import static dev.gatun.testing.AttentionReference.toFloat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Video attention (full, joint with a text prefix, spatial, temporal, causal temporal) on every
 * test device and dtype against the fp64 reference, on T and S of 1, 3, 17 and other
 * non-multiples of the tiles, GQA, head dims 64/72/128; and "exactly the same computation": the
 * output equals {@link Attention#prefill} run on the gathered contiguous sequences bit for bit.
 * That holds on emu, cpu and cuda-over-shim (kernels/video_attention.cuh and the cpu twin run the
 * prefill body with the same key tiles and lanes per row); on a real GPU the two kernels are the
 * same template body too, and the test asserts the same.
 */
@Tag("kernel")
class VideoAttentionKernelTest {
    enum Mode { FULL, JOINT, SPATIAL, TEMPORAL, CAUSAL_TEMPORAL }

    record Case(Mode mode, int batch, int frames, int patches, int qHeads, int kvHeads, int headDim, int textLen) {
        @Override public String toString() {
            return mode + " B" + batch + " T" + frames + " S" + patches + (textLen > 0 ? " L" + textLen : "") + " " + qHeads + "q/"
                    + kvHeads + "kv x" + headDim;
        }
    }

    /** Sequences of 1 to 92 tokens: packed (<= 32), one CTA (33..64) and several CTAs (> 64) per sequence. */
    static List<Case> cases() {
        return TestDevices.small()
                ? List.of(new Case(Mode.CAUSAL_TEMPORAL, 1, 3, 5, 2, 1, 64, 0), new Case(Mode.SPATIAL, 1, 2, 17, 2, 2, 72, 0),
                        new Case(Mode.JOINT, 1, 2, 3, 2, 1, 128, 5), new Case(Mode.FULL, 1, 5, 17, 1, 1, 64, 0))
                : List.of(new Case(Mode.FULL, 2, 3, 17, 2, 1, 64, 0), new Case(Mode.FULL, 1, 1, 1, 2, 2, 72, 0),
                        new Case(Mode.JOINT, 2, 5, 17, 4, 2, 72, 7), new Case(Mode.JOINT, 1, 3, 3, 2, 1, 128, 5),
                        new Case(Mode.SPATIAL, 2, 3, 17, 4, 2, 128, 0), new Case(Mode.SPATIAL, 1, 5, 1, 2, 1, 64, 0),
                        new Case(Mode.TEMPORAL, 2, 17, 3, 2, 1, 64, 0), new Case(Mode.TEMPORAL, 1, 13, 9, 2, 2, 128, 0),
                        new Case(Mode.TEMPORAL, 1, 1, 3, 2, 1, 72, 0), new Case(Mode.TEMPORAL, 1, 16, 5, 2, 1, 72, 0),
                        new Case(Mode.CAUSAL_TEMPORAL, 1, 33, 3, 4, 1, 64, 0),
                        new Case(Mode.CAUSAL_TEMPORAL, 1, 67, 2, 2, 2, 72, 0), new Case(Mode.CAUSAL_TEMPORAL, 2, 3, 17, 2, 1, 128, 0));
    }

    static List<Arguments> arguments() {
        List<Arguments> args = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (Case c : cases()) args.add(Arguments.of(device, dtype, c));
        return args;
    }

    /**
     * Token ids of each sequence in order: video token (b, t, s) is {@code (b*T + t)*S + s}, text
     * token l of clip b is {@code B*T*S + b*L + l} (the text rows follow the video rows in one table).
     */
    static int[][] sequences(Case c) {
        int b = c.batch(), t = c.frames(), s = c.patches(), video = b * t * s;
        List<int[]> seqs = new ArrayList<>();
        switch (c.mode()) {
            case FULL, JOINT -> {
                for (int z = 0; z < b; z++) {
                    int[] seq = new int[c.textLen() + t * s];
                    for (int l = 0; l < c.textLen(); l++) seq[l] = video + z * c.textLen() + l;
                    for (int i = 0; i < t * s; i++) seq[c.textLen() + i] = z * t * s + i;
                    seqs.add(seq);
                }
            }
            case SPATIAL -> {
                for (int z = 0; z < b * t; z++) {
                    int[] seq = new int[s];
                    for (int i = 0; i < s; i++) seq[i] = z * s + i;
                    seqs.add(seq);
                }
            }
            case TEMPORAL, CAUSAL_TEMPORAL -> {
                for (int z = 0; z < b * s; z++) {
                    int[] seq = new int[t];
                    for (int i = 0; i < t; i++) seq[i] = ((z / s) * t + i) * s + z % s;
                    seqs.add(seq);
                }
            }
        }
        return seqs.toArray(int[][]::new);
    }

    @ParameterizedTest(name = "video {0} {1} {2}")
    @MethodSource("arguments")
    void videoAttentionMatchesTheReferenceAndPrefill(Device device, DType dtype, Case c) {
        Random random = Seeds.random("video" + device + dtype + c);
        int videoTokens = c.batch() * c.frames() * c.patches(), tokens = videoTokens + c.batch() * c.textLen();
        int qRow = c.qHeads() * c.headDim(), kRow = c.kvHeads() * c.headDim();
        // one table of rows: the video tokens, then the text tokens
        float[] q = Reference.rounded(Seeds.gaussian(random, tokens * qRow, 1), dtype);
        float[] k = Reference.rounded(Seeds.gaussian(random, tokens * kRow, 1), dtype);
        float[] v = Reference.rounded(Seeds.gaussian(random, tokens * kRow, 1), dtype);
        float scale = (float) (1 / Math.sqrt(c.headDim()));
        boolean causal = c.mode() == Mode.CAUSAL_TEMPORAL;
        int[][] seqs = sequences(c);

        double[] expected = new double[q.length], naive = new double[q.length];
        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v);
        for (int[] seq : seqs)
            for (int i = 0; i < seq.length; i++)
                for (int h = 0; h < c.qHeads(); h++) {
                    int kvHead = h / (c.qHeads() / c.kvHeads());
                    int[] keys = new int[causal ? i + 1 : seq.length];
                    for (int j = 0; j < keys.length; j++) keys[j] = (seq[j] * c.kvHeads() + kvHead) * c.headDim();
                    int qOffset = (seq[i] * c.qHeads() + h) * c.headDim();
                    double[] r = AttentionReference.attend(qd, qOffset, kd, vd, keys, c.headDim(), scale, null);
                    double[] n = AttentionReference.attend(qd, qOffset, kd, vd, keys, c.headDim(), scale, dtype);
                    System.arraycopy(r, 0, expected, qOffset, c.headDim());
                    System.arraycopy(n, 0, naive, qOffset, c.headDim());
                }

        float[] result = run(device, dtype, c, q, k, v, scale);
        String what = "video " + device.description() + " " + dtype + " " + c;
        Numerics.assertClose(what, dtype, result, expected, toFloat(naive));
        assertArrayEquals(gatheredPrefill(device, dtype, c, seqs, q, k, v, scale, causal), result,
                what + ": video kernel vs prefill on the gathered sequences" + Seeds.replay());
    }

    /** The video op on [B, T, S, H, D] tensors (and [B, L, H, D] text); returns out rows then textOut rows. */
    private static float[] run(Device device, DType dtype, Case c, float[] q, float[] k, float[] v, float scale) {
        int b = c.batch(), t = c.frames(), s = c.patches(), l = c.textLen();
        int videoQ = b * t * s * c.qHeads() * c.headDim(), videoK = b * t * s * c.kvHeads() * c.headDim();
        try (Tensor tq = Tensor.of(device, dtype, Arrays.copyOfRange(q, 0, videoQ), b, t, s, c.qHeads(), c.headDim());
             Tensor tk = Tensor.of(device, dtype, Arrays.copyOfRange(k, 0, videoK), b, t, s, c.kvHeads(), c.headDim());
             Tensor tv = Tensor.of(device, dtype, Arrays.copyOfRange(v, 0, videoK), b, t, s, c.kvHeads(), c.headDim());
             Tensor out = Tensor.empty(device, dtype, b, t, s, c.qHeads(), c.headDim())) {
            out.fillBytes((byte) 0xFF);
            switch (c.mode()) {
                case FULL -> VideoAttention.full(tq, tk, tv, out, scale);
                case SPATIAL -> VideoAttention.spatial(tq, tk, tv, out, scale);
                case TEMPORAL -> VideoAttention.temporal(tq, tk, tv, out, false, scale);
                case CAUSAL_TEMPORAL -> VideoAttention.temporal(tq, tk, tv, out, true, scale);
                case JOINT -> {
                    try (Tensor xq = Tensor.of(device, dtype, Arrays.copyOfRange(q, videoQ, q.length), b, l, c.qHeads(), c.headDim());
                         Tensor xk = Tensor.of(device, dtype, Arrays.copyOfRange(k, videoK, k.length), b, l, c.kvHeads(), c.headDim());
                         Tensor xv = Tensor.of(device, dtype, Arrays.copyOfRange(v, videoK, v.length), b, l, c.kvHeads(), c.headDim());
                         Tensor xout = Tensor.empty(device, dtype, b, l, c.qHeads(), c.headDim())) {
                        xout.fillBytes((byte) 0xFF);
                        VideoAttention.full(tq, tk, tv, xq, xk, xv, out, xout, scale);
                        float[] both = new float[q.length];
                        System.arraycopy(out.toFloatArray(), 0, both, 0, videoQ);
                        System.arraycopy(xout.toFloatArray(), 0, both, videoQ, q.length - videoQ);
                        return both;
                    }
                }
            }
            return out.toFloatArray();
        }
    }

    /** Attention.prefill over the sequences gathered into a contiguous packed batch, scattered back to token rows. */
    private static float[] gatheredPrefill(Device device, DType dtype, Case c, int[][] seqs, float[] q, float[] k, float[] v,
                                           float scale, boolean causal) {
        int qRow = c.qHeads() * c.headDim(), kRow = c.kvHeads() * c.headDim();
        int[] cu = new int[seqs.length + 1];
        for (int z = 0; z < seqs.length; z++) cu[z + 1] = cu[z] + seqs[z].length;
        int total = cu[seqs.length];
        float[] gq = new float[total * qRow], gk = new float[total * kRow], gv = new float[total * kRow];
        for (int z = 0; z < seqs.length; z++)
            for (int i = 0; i < seqs[z].length; i++) {
                System.arraycopy(q, seqs[z][i] * qRow, gq, (cu[z] + i) * qRow, qRow);
                System.arraycopy(k, seqs[z][i] * kRow, gk, (cu[z] + i) * kRow, kRow);
                System.arraycopy(v, seqs[z][i] * kRow, gv, (cu[z] + i) * kRow, kRow);
            }
        float[] gathered;
        try (Tensor tq = Tensor.of(device, dtype, gq, total, c.qHeads(), c.headDim());
             Tensor tk = Tensor.of(device, dtype, gk, total, c.kvHeads(), c.headDim());
             Tensor tv = Tensor.of(device, dtype, gv, total, c.kvHeads(), c.headDim());
             Tensor out = Tensor.empty(device, dtype, total, c.qHeads(), c.headDim());
             Tensor lse = Tensor.empty(device, DType.F32, total, c.qHeads())) {
            Attention.prefill(tq, tk, tv, cu, cu, scale, causal, -1, out, lse);
            gathered = out.toFloatArray();
        }
        float[] scattered = new float[q.length];
        for (int z = 0; z < seqs.length; z++)
            for (int i = 0; i < seqs[z].length; i++)
                System.arraycopy(gathered, (cu[z] + i) * qRow, scattered, seqs[z][i] * qRow, qRow);
        return scattered;
    }
}
