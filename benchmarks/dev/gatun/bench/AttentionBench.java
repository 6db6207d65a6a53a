package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The projection GEMM and prefill, whole and in chunks against a paged cache (GFLOP/s against the
 * FMA peak, or the bf16 dot-product peak for the cpu's bf16 prefill where it has one; causal prefill
 * counted as half of the S² work), and paged decode (GB/s of K/V read, against the read bandwidth),
 * each beside torch on the op's device when installed.
 */
final class AttentionBench {
    private AttentionBench() {}

    /**
     * Each op of {@code ops} at each size of its sweep: n = k of the GEMM, the prefill's sequence,
     * the decode's batch and context (a long single sequence, a mid-size batch over growing contexts
     * and a large batch of short ones: the range a serving engine sees).
     */
    static List<BenchRow> run(Device device, Set<String> ops, boolean quick, int repetitions, Ceilings ceilings) {
        boolean emu = BenchMain.emulated(device);
        int reps = emu ? Math.min(3, repetitions) : repetitions;
        int[] gemm = emu ? new int[] {128, 256} : quick ? new int[] {512, 1024} : new int[] {1024, 2048, 4096};
        int[] seqs = emu ? new int[] {64, 128} : quick ? new int[] {256, 512} : new int[] {512, 1024, 2048, 4096};
        int[][] batchContexts = emu ? new int[][] {{2, 128}, {2, 256}} : quick ? new int[][] {{4, 512}, {4, 1024}}
                : new int[][] {{1, 8192}, {16, 1024}, {16, 2048}, {16, 4096}, {64, 1024}};
        List<BenchRow> rows = new ArrayList<>();
        if (ops.contains("linear"))
            for (DType dtype : computeTypes(device))
                for (int nk : gemm) rows.add(linear(device, dtype, emu ? 64 : quick ? 128 : 512, nk, nk, reps, ceilings));
        if (ops.contains("prefill"))
            for (DType dtype : attentionTypes(device)) {
                for (int seq : seqs) rows.add(prefill(device, dtype, emu ? 2 : 8, seq, emu ? 64 : 128, reps, ceilings));
                // a prompt as the engines prefill it: chunks of their default token budget (256)
                rows.add(chunkedPrefill(device, dtype, emu ? 2 : 8, emu ? 128 : quick ? 512 : 2048, emu ? 32 : 256, emu ? 64 : 128, reps, ceilings));
            }
        // fp32, and bf16: the cache a model loaded in its checkpoint's bf16 gets
        if (ops.contains("decode"))
            for (DType dtype : List.of(DType.F32, DType.BF16))
                for (int[] bc : batchContexts)
                    rows.add(decode(device, dtype, bc[0], bc[1], emu ? 4 : 32, emu ? 2 : 8, emu ? 64 : 128, reps, ceilings));
        return rows;
    }

    /** The dtypes of the compute-bound rows: fp32 everywhere; on a GPU also bf16, which runs on its tensor cores. */
    static List<DType> computeTypes(Device device) {
        return device.kind() == DeviceKind.CUDA ? List.of(DType.F32, DType.BF16) : List.of(DType.F32);
    }

    /**
     * The prefill's and video attention's: those, and bf16 on the cpu as well (the dtype of most
     * checkpoints), whose flash tiles multiply bf16 pairs where the CPU has the instructions (beside
     * their own peak, see {@link Ceilings#computeBound}) and widen to fp32 elsewhere.
     */
    static List<DType> attentionTypes(Device device) {
        return device.kind() == DeviceKind.CPU ? List.of(DType.F32, DType.BF16) : computeTypes(device);
    }

    private static BenchRow linear(Device device, DType dtype, int m, int n, int k, int reps, Ceilings ceilings) {
        try (Tensor x = random(device, dtype, m, 1, k); Tensor w = random(device, dtype, n, 1, k);
             Tensor x2 = x.reshape(m, k); Tensor w2 = w.reshape(n, k); Tensor y = Tensor.empty(device, dtype, m, n)) {
            try (TorchPeer peer = TorchPeer.start(device, "linear", m, n, k, TorchPeer.bf16(dtype))) {
                Ceilings.Measured r = ceilings.computeBound(device, dtype, () -> Ops.linear(x2, w2, null, y), reps, peer);
                return new BenchRow("linear", device.kind().id(), dtype.id(), m + "x" + n + "x" + k, 2.0 * m * n * k / 1e9, "GFLOP", r.seconds(),
                        2.0 * m * n * k / r.seconds() / 1e9, "GFLOP/s", r.ceiling(), r.ceilingName(), r.peer("torch linear"), r.peerSeconds());
            }
        }
    }

    private static BenchRow prefill(Device device, DType dtype, int heads, int seq, int dim, int reps, Ceilings ceilings) {
        try (Tensor q = random(device, dtype, seq, heads, dim); Tensor k = random(device, dtype, seq, heads, dim);
             Tensor v = random(device, dtype, seq, heads, dim); Tensor out = Tensor.empty(device, dtype, seq, heads, dim);
             Tensor lse = Tensor.empty(device, DType.F32, seq, heads)) {
            int[] cu = {0, seq};
            float scale = (float) (1 / Math.sqrt(dim));
            double flops = 4.0 * seq * seq * dim * heads / 2; // causal: half of QKᵀ and PV
            try (TorchPeer peer = TorchPeer.start(device, "prefill", heads, seq, dim, 1, TorchPeer.bf16(dtype))) {
                Ceilings.Measured r = ceilings.computeBound(device, dtype, () -> Attention.prefill(q, k, v, cu, cu, scale, true, -1, out, lse), reps, peer);
                return new BenchRow("prefill", device.kind().id(), dtype.id(), "causal h" + heads + " s" + seq + " d" + dim, flops / 1e9, "GFLOP", r.seconds(),
                        flops / r.seconds() / 1e9, "GFLOP/s", r.ceiling(), r.ceilingName(), r.peer("torch sdpa"), r.peerSeconds());
            }
        }
    }

    /**
     * A causal prompt of {@code seq} tokens prefilled in chunks of {@code chunk} queries, each chunk
     * against the paged cache holding the prompt's keys up to its end (blocks of the engines' size on
     * the device, in a shuffled order, as a free list hands them out): the engines' path. The FLOPs
     * are the whole prompt's, and the peer is torch's SDPA on the whole prompt in one call.
     */
    private static BenchRow chunkedPrefill(Device device, DType dtype, int heads, int seq, int chunk, int dim, int reps, Ceilings ceilings) {
        int blockSize = Attention.preferredBlockSize(device), blocks = seq / blockSize, chunks = seq / chunk;
        List<Integer> order = new ArrayList<>(IntStream.range(0, blocks).boxed().toList());
        Collections.shuffle(order, new Random(blocks));
        int[][] table = {order.stream().mapToInt(Integer::intValue).toArray()};
        Tensor[][] parts = new Tensor[chunks][];  // per chunk: views of its queries, output rows and lse rows
        try (Tensor q = random(device, dtype, seq, heads, dim); Tensor keys = random(device, dtype, seq, heads, dim);
             Tensor values = random(device, dtype, seq, heads, dim); Tensor kc = keys.reshape(blocks, blockSize, heads, dim);
             Tensor vc = values.reshape(blocks, blockSize, heads, dim); Tensor out = Tensor.empty(device, dtype, seq, heads, dim);
             Tensor lse = Tensor.empty(device, DType.F32, seq, heads)) {
            Attention.PagedKv cache = new Attention.PagedKv(kc, vc);
            for (int c = 0; c < chunks; c++) {
                long from = (long) c * chunk, to = from + chunk;
                parts[c] = new Tensor[] {q.slice(0, from, to), out.slice(0, from, to), lse.slice(0, from, to)};
            }
            float scale = (float) (1 / Math.sqrt(dim));
            int[] cuQ = {0, chunk};
            Runnable prompt = () -> {
                for (int c = 0; c < chunks; c++)
                    Attention.prefillPaged(parts[c][0], cache, cuQ, table, new int[] {(c + 1) * chunk}, scale, true, -1, parts[c][1], parts[c][2]);
            };
            double flops = 4.0 * seq * seq * dim * heads / 2;
            try (TorchPeer peer = TorchPeer.start(device, "prefill", heads, seq, dim, 1, TorchPeer.bf16(dtype))) {
                Ceilings.Measured r = ceilings.computeBound(device, dtype, prompt, reps, peer);
                return new BenchRow("chunked", device.kind().id(), dtype.id(), "h" + heads + " s" + seq + " by " + chunk + " d" + dim + " bs" + blockSize,
                        flops / 1e9, "GFLOP", r.seconds(), flops / r.seconds() / 1e9, "GFLOP/s", r.ceiling(), r.ceilingName(),
                        r.peer("torch sdpa, whole prompt"), r.peerSeconds());
            }
        } finally {
            for (Tensor[] p : parts) if (p != null) for (Tensor t : p) t.close();
        }
    }

    private static BenchRow decode(Device device, DType dtype, int batch, int context, int qHeads, int kvHeads, int dim, int reps, Ceilings ceilings) {
        int blockSize = Attention.preferredBlockSize(device), blocksPerSeq = context / blockSize, numBlocks = batch * blocksPerSeq;
        try (Tensor keys = random(device, dtype, numBlocks * blockSize, kvHeads, dim); Tensor values = random(device, dtype, numBlocks * blockSize, kvHeads, dim);
             Tensor kc = keys.reshape(numBlocks, blockSize, kvHeads, dim); Tensor vc = values.reshape(numBlocks, blockSize, kvHeads, dim);
             Tensor q = random(device, dtype, batch, qHeads, dim); Tensor out = Tensor.empty(device, dtype, batch, qHeads, dim);
             Tensor lse = Tensor.empty(device, DType.F32, batch, qHeads)) {
            int[][] tables = new int[batch][blocksPerSeq];
            int[] lens = new int[batch];
            for (int b = 0; b < batch; b++) {
                lens[b] = context;
                // as a serving engine's sequences that grow side by side get their blocks: interleaved
                for (int i = 0; i < blocksPerSeq; i++) tables[b][i] = i * batch + b;
            }
            Attention.PagedKv cache = new Attention.PagedKv(kc, vc);
            float scale = (float) (1 / Math.sqrt(dim));
            double bytes = 2.0 * batch * context * kvHeads * dim * dtype.byteSize();
            try (TorchPeer peer = TorchPeer.start(device, "decode", batch, context, qHeads, kvHeads, dim, TorchPeer.bf16(dtype))) {
                Ceilings.Measured r = ceilings.memoryBound(device, () -> Attention.decode(q, cache, tables, lens, scale, -1, out, lse), reps,
                        Ceilings.Memory.READ, (long) bytes, peer);
                return new BenchRow("decode", device.kind().id(), dtype.id(), "b" + batch + " ctx" + context + " h" + qHeads + "/" + kvHeads + " d" + dim + " bs" + blockSize,
                        bytes / (1 << 20), "MiB of K/V read", r.seconds(), bytes / r.seconds() / 1e9, "GB/s", r.ceiling(), r.ceilingName(),
                        r.peer("torch sdpa"), r.peerSeconds());
            }
        }
    }

    private static Tensor random(Device device, DType dtype, int rows, int heads, int dim) {
        Random random = new Random(rows * 131L + heads * 7L + dim);
        float[] values = new float[rows * heads * dim];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        return Tensor.of(device, dtype, values, rows, heads, dim);
    }
}
