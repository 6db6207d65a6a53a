package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
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
import java.util.stream.IntStream;

import static dev.gatun.testing.AttentionReference.toDouble;
import static dev.gatun.testing.AttentionReference.toFloat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Flash prefill on every test device and dtype against the fp64 reference: one packed batch of
 * sequences of lengths 1, 2, 17, 63, 64, 65, 257 (and a chunk whose queries follow earlier keys),
 * causal and not, a sliding window, GQA 1/4/8, head dims 64..128; a sequence gives the same bits
 * alone as inside the batch.
 */
@Tag("kernel")
class PrefillKernelTest {
    record Case(int qHeads, int kvHeads, int headDim, boolean causal, int window) {
        @Override public String toString() {
            return qHeads + "q/" + kvHeads + "kv x" + headDim + (causal ? " causal" : "") + (window >= 0 ? " window " + window : "");
        }
    }

    static List<Case> cases() {
        return TestDevices.small()
                ? List.of(new Case(2, 1, 64, true, -1), new Case(2, 2, 72, false, 5))
                : List.of(new Case(4, 4, 64, true, -1), new Case(8, 2, 80, false, -1), new Case(8, 1, 128, true, 40),
                        new Case(4, 1, 96, false, 17), new Case(4, 2, 72, true, -1),
                        // 40: below the d64 build's width and not whole 16-column MMA blocks
                        new Case(2, 1, 40, true, 9));
    }

    /** Query and key lengths per sequence: key lengths past the query length are earlier chunks. */
    static int[][] lengths() {
        return TestDevices.small() ? new int[][] {{1, 1}, {17, 17}, {5, 40}, {65, 65}}
                // 66: a last query tile of 2 rows; 40 after 254 cached keys: a key block ending one past
                // the first query's diagonal (the causal mask's edge cases, on both CPU builds' tiles);
                // 67 after 233: an odd offset, so causal segments end at odd keys (the bf16 tiles' key pairs)
                : new int[][] {{1, 1}, {2, 2}, {17, 17}, {63, 63}, {64, 64}, {65, 65}, {66, 66}, {257, 257}, {40, 294}, {67, 300}};
    }

    static List<Arguments> arguments() {
        List<Arguments> args = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (Case c : cases()) args.add(Arguments.of(device, dtype, c));
        return args;
    }

    @ParameterizedTest(name = "prefill {0} {1} {2}")
    @MethodSource("arguments")
    void prefillMatchesTheReference(Device device, DType dtype, Case c) {
        Random random = Seeds.random("prefill" + device + dtype + c);
        int[][] lens = lengths();
        int batch = lens.length;
        int[] cuQ = new int[batch + 1], cuK = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            cuQ[b + 1] = cuQ[b] + lens[b][0];
            cuK[b + 1] = cuK[b] + lens[b][1];
        }
        int qRow = c.qHeads() * c.headDim(), kRow = c.kvHeads() * c.headDim();
        float[] q = Reference.rounded(Seeds.gaussian(random, cuQ[batch] * qRow, 1), dtype);
        float[] k = Reference.rounded(Seeds.gaussian(random, cuK[batch] * kRow, 1), dtype);
        float[] v = Reference.rounded(Seeds.gaussian(random, cuK[batch] * kRow, 1), dtype);
        float scale = (float) (1 / Math.sqrt(c.headDim()));
        double[][] ref = reference(dtype, c, q, k, v, cuQ, cuK, scale);
        double[] expected = ref[0], expectedLse = ref[2];
        float[] naive = toFloat(ref[1]);
        float[][] result = run(device, dtype, c, q, k, v, cuQ, cuK, scale);
        String what = "prefill " + device.description() + " " + dtype + " " + c;
        Numerics.assertClose(what, dtype, result[0], expected, naive);
        Numerics.assertClose(what + " lse", DType.F32, result[1], expectedLse, null);

        // the same keys in a paged cache with shuffled blocks: the chunked-prefill path, with 16-token
        // blocks and with the block size the engines use on this device where it differs
        for (int blockSize : TestDevices.kvBlockSizes(device)) {
            float[][] paged = runPaged(device, dtype, c, q, k, v, cuQ, cuK, scale, blockSize, random);
            String where = what + " paged, block " + blockSize;
            Numerics.assertClose(where, dtype, paged[0], expected, naive);
            Numerics.assertClose(where + " lse", DType.F32, paged[1], expectedLse, null);
            if (device.kind() != DeviceKind.CPU) // kernels/ runs one body for both: the same bits
                assertArrayEquals(result[0], paged[0], where + ": paged vs contiguous" + Seeds.replay());
        }

        // the longest sequence alone: the same bits as inside the batch
        int b = 0;
        for (int s = 1; s < batch; s++) if (lens[s][0] > lens[b][0]) b = s;
        float[] qAlone = Arrays.copyOfRange(q, cuQ[b] * qRow, cuQ[b + 1] * qRow);
        float[] kAlone = Arrays.copyOfRange(k, cuK[b] * kRow, cuK[b + 1] * kRow);
        float[] vAlone = Arrays.copyOfRange(v, cuK[b] * kRow, cuK[b + 1] * kRow);
        float[][] alone = run(device, dtype, c, qAlone, kAlone, vAlone, new int[] {0, lens[b][0]}, new int[] {0, lens[b][1]}, scale);
        assertArrayEquals(Arrays.copyOfRange(result[0], cuQ[b] * qRow, cuQ[b + 1] * qRow), alone[0], what + ": alone vs in a batch" + Seeds.replay());
    }

    /**
     * {expected, naive, lse} for a packed batch: the fp64 reference of every (query, head) row, the
     * same computation rounded to {@code dtype} (the error bound's baseline; zeros for fp32, whose
     * bound is fixed), and the rows' log-sum-exp. Rows in parallel: each writes only its own slots.
     */
    static double[][] reference(DType dtype, Case c, float[] q, float[] k, float[] v, int[] cuQ, int[] cuK, float scale) {
        int batch = cuQ.length - 1;
        double[] expected = new double[q.length], naive = new double[q.length], lse = new double[cuQ[batch] * c.qHeads()];
        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v);
        IntStream.range(0, cuQ[batch] * c.qHeads()).parallel().forEach(row -> {
            int token = row / c.qHeads(), h = row % c.qHeads(), b = 0;
            while (cuQ[b + 1] <= token) b++;
            int i = token - cuQ[b], lenQ = cuQ[b + 1] - cuQ[b], lenK = cuK[b + 1] - cuK[b];
            int kvHead = h / (c.qHeads() / c.kvHeads());
            int diagonal = i + lenK - lenQ;
            List<Integer> keys = new ArrayList<>();
            for (int j = 0; j < lenK; j++) {
                if (c.causal() && j > diagonal) continue;
                if (c.window() >= 0 && j < diagonal - c.window()) continue;
                keys.add(((cuK[b] + j) * c.kvHeads() + kvHead) * c.headDim());
            }
            int[] offsets = keys.stream().mapToInt(Integer::intValue).toArray();
            int qOffset = row * c.headDim();
            double[] r = AttentionReference.attend(qd, qOffset, kd, vd, offsets, c.headDim(), scale, null);
            System.arraycopy(r, 0, expected, qOffset, c.headDim());
            lse[row] = r[c.headDim()];
            if (dtype != DType.F32)
                System.arraycopy(AttentionReference.attend(qd, qOffset, kd, vd, offsets, c.headDim(), scale, dtype), 0, naive, qOffset, c.headDim());
        });
        return new double[][] {expected, naive, lse};
    }

    /** Prefill reading K/V through block tables from a cache whose blocks are shuffled. */
    static float[][] runPaged(Device device, DType dtype, Case c, float[] q, float[] k, float[] v, int[] cuQ, int[] cuK,
                              float scale, int blockSize, Random random) {
        int batch = cuQ.length - 1, row = c.kvHeads() * c.headDim();
        int[] seqLens = new int[batch];
        int blocks = 0;
        for (int b = 0; b < batch; b++) {
            seqLens[b] = cuK[b + 1] - cuK[b];
            blocks += (seqLens[b] + blockSize - 1) / blockSize;
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < blocks; i++) ids.add(i);
        java.util.Collections.shuffle(ids, random);
        float[] kc = new float[Math.max(1, blocks) * blockSize * row], vc = new float[kc.length];
        int[][] tables = new int[batch][];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            tables[b] = new int[(seqLens[b] + blockSize - 1) / blockSize];
            for (int i = 0; i < tables[b].length; i++) tables[b][i] = ids.get(next++);
            for (int j = 0; j < seqLens[b]; j++) {
                int slot = tables[b][j / blockSize] * blockSize + j % blockSize;
                System.arraycopy(k, (cuK[b] + j) * row, kc, slot * row, row);
                System.arraycopy(v, (cuK[b] + j) * row, vc, slot * row, row);
            }
        }
        int totalQ = cuQ[batch];
        try (Tensor tq = Tensor.of(device, dtype, q, totalQ, c.qHeads(), c.headDim());
             Tensor keys = Tensor.of(device, dtype, kc, Math.max(1, blocks), blockSize, c.kvHeads(), c.headDim());
             Tensor values = Tensor.of(device, dtype, vc, Math.max(1, blocks), blockSize, c.kvHeads(), c.headDim());
             Tensor out = Tensor.empty(device, dtype, totalQ, c.qHeads(), c.headDim());
             Tensor lse = Tensor.empty(device, DType.F32, totalQ, c.qHeads())) {
            out.fillBytes((byte) 0xFF);
            lse.fillBytes((byte) 0xFF);
            Attention.prefillPaged(tq, new Attention.PagedKv(keys, values), cuQ, tables, seqLens, scale, c.causal(), c.window(), out, lse);
            return new float[][] {out.toFloatArray(), lse.toFloatArray()};
        }
    }

    static float[][] run(Device device, DType dtype, Case c, float[] q, float[] k, float[] v, int[] cuQ, int[] cuK, float scale) {
        int totalQ = cuQ[cuQ.length - 1], totalK = cuK[cuK.length - 1];
        try (Tensor tq = Tensor.of(device, dtype, q, totalQ, c.qHeads(), c.headDim());
             Tensor tk = Tensor.of(device, dtype, k, totalK, c.kvHeads(), c.headDim());
             Tensor tv = Tensor.of(device, dtype, v, totalK, c.kvHeads(), c.headDim());
             Tensor out = Tensor.empty(device, dtype, totalQ, c.qHeads(), c.headDim());
             Tensor lse = Tensor.empty(device, DType.F32, totalQ, c.qHeads())) {
            out.fillBytes((byte) 0xFF);
            lse.fillBytes((byte) 0xFF);
            Attention.prefill(tq, tk, tv, cuQ, cuK, scale, c.causal(), c.window(), out, lse);
            return new float[][] {out.toFloatArray(), lse.toFloatArray()};
        }
    }
}
