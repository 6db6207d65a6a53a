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
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static dev.gatun.testing.AttentionReference.toDouble;
import static dev.gatun.testing.AttentionReference.toFloat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RoPE, the paged KV append and paged decode on every test device and dtype against fp64
 * references: shuffled physical blocks, padding slots, GQA ratios 1/4/8, odd sequence lengths,
 * sliding windows; decode results are bit-identical whether a sequence runs alone or in a batch.
 */
@Tag("kernel")
class PagedAttentionKernelTest {
    /** GQA layout and head dim of a case. */
    record Heads(int qHeads, int kvHeads, int headDim) {
        @Override public String toString() { return qHeads + "q/" + kvHeads + "kv x" + headDim; }
    }

    /**
     * Groups (query heads per kv head) of 1, 2, 3 (padded to 4 by the CPU decode), 4 and 8, and head
     * dims 64, 72, 80, 96 and 128 (the CPU's bf16 rows go 2 vectors at a time: whole pairs and a rest).
     */
    static List<Heads> heads() {
        return TestDevices.small() ? List.of(new Heads(4, 2, 64), new Heads(2, 2, 72))
                : List.of(new Heads(4, 4, 64), new Heads(4, 2, 72), new Heads(8, 2, 80), new Heads(6, 2, 96), new Heads(8, 1, 128));
    }

    static int[] seqLens() {
        return TestDevices.small() ? new int[] {1, 17, 65} : new int[] {1, 2, 17, 63, 64, 65, 257, 1100};
    }

    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (Heads h : heads()) cases.add(Arguments.of(device, dtype, h));
        return cases;
    }

    @ParameterizedTest(name = "rope {0} {1} {2}")
    @MethodSource("cases")
    void rope(Device device, DType dtype, Heads h) {
        Random random = Seeds.random("rope" + device + dtype + h);
        int tokens = TestDevices.small() ? 3 : 37;
        // llama3 with an 8192-token original context: frequencies in all three bands for theta 10000
        List<Attention.RopeScaling> scalings = List.of(Attention.RopeScaling.NONE, Attention.RopeScaling.linear(4),
                Attention.RopeScaling.llama3(8, 1, 4, 8192));
        for (Attention.RopeStyle style : Attention.RopeStyle.values())
            for (Attention.RopeScaling scaling : scalings) {
                int rotary = style == Attention.RopeStyle.NEOX ? h.headDim() : h.headDim() / 2;
                Attention.Rope rope = new Attention.Rope(rotary, 10000f, style, scaling);
                float[] x = Reference.rounded(Seeds.gaussian(random, tokens * h.qHeads() * h.headDim(), 1), dtype);
                int[] positions = random.ints(tokens, 0, 50_000).toArray();
                double[] expected = toDouble(x), naive = toDouble(x);
                for (int t = 0; t < tokens; t++)
                    for (int hd = 0; hd < h.qHeads(); hd++) {
                        int offset = (t * h.qHeads() + hd) * h.headDim();
                        AttentionReference.rope(expected, offset, positions[t], rotary, 10000f, scaling, style.ordinal(), null);
                        AttentionReference.rope(naive, offset, positions[t], rotary, 10000f, scaling, style.ordinal(), dtype);
                    }
                try (Tensor t = Tensor.of(device, dtype, x, tokens, h.qHeads(), h.headDim())) {
                    Attention.rope(t, positions, rope);
                    Numerics.assertClose("rope " + style + " " + scaling + " " + device.description() + " " + dtype, dtype,
                            t.toFloatArray(), expected, toFloat(naive));
                }
            }
    }

    @ParameterizedTest(name = "appendKv {0} {1} {2}")
    @MethodSource("cases")
    void appendKvWritesRopedKeysThroughTheSlotMapping(Device device, DType dtype, Heads h) {
        Random random = Seeds.random("append" + device + dtype + h);
        int tokens = TestDevices.small() ? 5 : 40, blockSize = 16, numBlocks = 6, row = h.kvHeads() * h.headDim();
        List<Long> free = new ArrayList<>();
        for (long s = 0; s < (long) numBlocks * blockSize; s++) free.add(s);
        Collections.shuffle(free, random);
        long[] slots = new long[tokens];
        for (int t = 0; t < tokens; t++) slots[t] = t % 7 == 3 ? -1 : free.get(t); // some padding tokens
        int[] positions = random.ints(tokens, 0, 4096).toArray();
        Attention.RopeScaling scaling = Attention.RopeScaling.llama3(8, 1, 4, 1024);
        Attention.Rope rope = new Attention.Rope(h.headDim(), 500000f, Attention.RopeStyle.NEOX, scaling);
        float[] q = Reference.rounded(Seeds.gaussian(random, tokens * h.qHeads() * h.headDim(), 1), dtype);
        float[] k = Reference.rounded(Seeds.gaussian(random, tokens * row, 1), dtype);
        float[] v = Reference.rounded(Seeds.gaussian(random, tokens * row, 1), dtype);
        float[] cacheInit = Reference.rounded(Seeds.gaussian(random, numBlocks * blockSize * row, 1), dtype);
        try (Tensor tq = Tensor.of(device, dtype, q, tokens, h.qHeads(), h.headDim());
             Tensor tk = Tensor.of(device, dtype, k, tokens, h.kvHeads(), h.headDim());
             Tensor tv = Tensor.of(device, dtype, v, tokens, h.kvHeads(), h.headDim());
             Tensor kc = Tensor.of(device, dtype, cacheInit, numBlocks, blockSize, h.kvHeads(), h.headDim());
             Tensor vc = Tensor.of(device, dtype, cacheInit, numBlocks, blockSize, h.kvHeads(), h.headDim())) {
            Attention.appendKv(tq, tk, tv, new Attention.PagedKv(kc, vc), slots, positions, rope);
            double[] expectedK = toDouble(cacheInit), naiveK = toDouble(cacheInit);
            float[] expectedV = cacheInit.clone();
            double[] ropedK = toDouble(k), ropedKNaive = toDouble(k);
            for (int t = 0; t < tokens; t++) {
                for (int hd = 0; hd < h.kvHeads(); hd++) {
                    AttentionReference.rope(ropedK, (t * h.kvHeads() + hd) * h.headDim(), positions[t], h.headDim(), 500000f, scaling, 0, null);
                    AttentionReference.rope(ropedKNaive, (t * h.kvHeads() + hd) * h.headDim(), positions[t], h.headDim(), 500000f, scaling, 0, dtype);
                }
                if (slots[t] < 0) continue;
                System.arraycopy(ropedK, t * row, expectedK, (int) slots[t] * row, row);
                System.arraycopy(ropedKNaive, t * row, naiveK, (int) slots[t] * row, row);
                System.arraycopy(v, t * row, expectedV, (int) slots[t] * row, row);
            }
            Numerics.assertClose("appendKv keys " + device.description() + " " + dtype, dtype, kc.toFloatArray(), expectedK, toFloat(naiveK));
            assertArrayEquals(expectedV, vc.toFloatArray(), "values are copied exactly, untouched slots keep their contents");
        }
    }

    @ParameterizedTest(name = "decode {0} {1} {2}")
    @MethodSource("cases")
    void decodeMatchesTheReferenceAndIsBatchInvariant(Device device, DType dtype, Heads h) {
        for (int blockSize : TestDevices.kvBlockSizes(device)) decode(device, dtype, h, blockSize);
    }

    static void decode(Device device, DType dtype, Heads h, int blockSize) {
        decode(device, dtype, h, blockSize, seqLens());
    }

    /** Decode of a batch of sequences of {@code lens} tokens (the last one also alone), with and without a window. */
    static void decode(Device device, DType dtype, Heads h, int blockSize, int[] lens) {
        Random random = Seeds.random("decode" + device + dtype + h + blockSize);
        int batch = lens.length, row = h.kvHeads() * h.headDim();
        int numBlocks = 0;
        for (int len : lens) numBlocks += (len + blockSize - 1) / blockSize + 1;
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) ids.add(i);
        Collections.shuffle(ids, random);
        int[][] tables = new int[batch][];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            tables[b] = new int[(lens[b] + blockSize - 1) / blockSize + 1]; // one spare block: tables may be longer than needed
            for (int i = 0; i < tables[b].length; i++) tables[b][i] = ids.get(next++);
        }
        float[] kc = Reference.rounded(Seeds.gaussian(random, numBlocks * blockSize * row, 1), dtype);
        float[] vc = Reference.rounded(Seeds.gaussian(random, numBlocks * blockSize * row, 1), dtype);
        float[] q = Reference.rounded(Seeds.gaussian(random, batch * h.qHeads() * h.headDim(), 1), dtype);
        float scale = (float) (1 / Math.sqrt(h.headDim()));
        for (int window : new int[] {-1, 20}) {
            double[] expected = new double[q.length], naive = new double[q.length], expectedLse = new double[batch * h.qHeads()];
            for (int b = 0; b < batch; b++)
                for (int hd = 0; hd < h.qHeads(); hd++) {
                    int kvHead = hd / (h.qHeads() / h.kvHeads());
                    int first = window < 0 ? 0 : Math.max(0, lens[b] - 1 - window);
                    int[] keys = new int[lens[b] - first];
                    for (int j = first; j < lens[b]; j++)
                        keys[j - first] = ((tables[b][j / blockSize] * blockSize + j % blockSize) * h.kvHeads() + kvHead) * h.headDim();
                    int qOffset = (b * h.qHeads() + hd) * h.headDim();
                    double[] r = AttentionReference.attend(toDouble(q), qOffset, toDouble(kc), toDouble(vc), keys, h.headDim(), scale, null);
                    double[] n = AttentionReference.attend(toDouble(q), qOffset, toDouble(kc), toDouble(vc), keys, h.headDim(), scale, dtype);
                    System.arraycopy(r, 0, expected, qOffset, h.headDim());
                    System.arraycopy(n, 0, naive, qOffset, h.headDim());
                    expectedLse[b * h.qHeads() + hd] = r[h.headDim()];
                }
            String what = "decode window " + window + " block " + blockSize + " " + device.description() + " " + dtype + " " + h;
            float[][] batched = decode(device, dtype, h, kc, vc, q, tables, lens, numBlocks, blockSize, scale, window, batch);
            Numerics.assertClose(what, dtype, batched[0], expected, toFloat(naive));
            Numerics.assertClose(what + " lse", DType.F32, batched[1], expectedLse, null);
            // one sequence alone gives the same bits as inside the batch
            int b = batch - 1;
            float[] qAlone = Arrays.copyOfRange(q, b * h.qHeads() * h.headDim(), (b + 1) * h.qHeads() * h.headDim());
            float[][] alone = decode(device, dtype, h, kc, vc, qAlone, new int[][] {tables[b]}, new int[] {lens[b]}, numBlocks, blockSize,
                    scale, window, 1);
            assertArrayEquals(Arrays.copyOfRange(batched[0], b * h.qHeads() * h.headDim(), batched[0].length), alone[0],
                    what + ": alone vs in a batch" + Seeds.replay());
        }
    }

    private static float[][] decode(Device device, DType dtype, Heads h, float[] kc, float[] vc, float[] q, int[][] tables, int[] lens,
                                    int numBlocks, int blockSize, float scale, int window, int batch) {
        try (Tensor keys = Tensor.of(device, dtype, kc, numBlocks, blockSize, h.kvHeads(), h.headDim());
             Tensor values = Tensor.of(device, dtype, vc, numBlocks, blockSize, h.kvHeads(), h.headDim());
             Tensor tq = Tensor.of(device, dtype, q, batch, h.qHeads(), h.headDim());
             Tensor out = Tensor.empty(device, dtype, batch, h.qHeads(), h.headDim());
             Tensor lse = Tensor.empty(device, DType.F32, batch, h.qHeads())) {
            out.fillBytes((byte) 0xFF);
            lse.fillBytes((byte) 0xFF);
            Attention.decode(tq, new Attention.PagedKv(keys, values), tables, lens, scale, window, out, lse);
            float[] lseValues = lse.toFloatArray();
            for (float l : lseValues) assertTrue(!Float.isNaN(l), "lse written");
            assertEquals(lens.length * h.qHeads(), lseValues.length);
            return new float[][] {out.toFloatArray(), lseValues};
        }
    }
}
