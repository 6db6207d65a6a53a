package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every check of the attention ops, one wrong argument at a time against a call that runs: each
 * is refused in Java with a message naming what is wrong (a PIT run showed that dropping any of
 * these checks passed the kernel suites, which only make valid calls).
 */
class AttentionValidationTest {
    static final int T = 4, HQ = 4, HKV = 2, D = 16, BLOCKS = 4, BS = 8;
    static final Attention.Rope ROPE = new Attention.Rope(D, 10000f, Attention.RopeStyle.NEOX);
    private final Device cpu = Devices.get("cpu");
    private final Device emu = Devices.get("emu");
    private final List<Tensor> tensors = new ArrayList<>();
    private Tensor q, k, v, out, lse;
    private Attention.PagedKv cache;

    private Tensor zeros(Device device, DType dtype, long... shape) {
        Tensor t = Tensor.empty(device, dtype, shape);
        t.fillBytes((byte) 0);
        tensors.add(t);
        return t;
    }

    private Tensor zeros(long... shape) { return zeros(cpu, DType.F32, shape); }

    private Tensor transposedOut() {
        Tensor t = zeros(T, HQ, D).transpose(0, 1);
        tensors.add(t);
        return t;
    }

    @BeforeEach
    void valid() {
        q = zeros(T, HQ, D);
        k = zeros(T, HKV, D);
        v = zeros(T, HKV, D);
        out = zeros(T, HQ, D);
        lse = zeros(T, HQ);
        cache = new Attention.PagedKv(zeros(BLOCKS, BS, HKV, D), zeros(BLOCKS, BS, HKV, D));
    }

    @AfterEach
    void close() {
        for (Tensor t : tensors) t.close();
    }

    private static void refused(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, expected);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should mention '" + expected + "'");
    }

    @Test
    void rope() {
        int[] positions = {0, 1, 2, 3};
        Attention.rope(q, positions, ROPE);
        refused("rope: x must be a contiguous fp32/fp16/bf16 tensor [tokens, heads, headDim]", () -> Attention.rope(zeros(T, HQ * D), positions, ROPE));
        refused("rope: x must be a contiguous fp32/fp16/bf16 tensor", () -> Attention.rope(zeros(cpu, DType.I32, T, HQ, D), positions, ROPE));
        refused("rope: x needs >= 1 head and a head dim that is a multiple of 8 up to 128", () -> Attention.rope(zeros(T, HQ, 12), positions, ROPE));
        refused("rope: x needs >= 1 head and a head dim that is a multiple of 8 up to 128", () -> Attention.rope(zeros(T, HQ, 136), positions, ROPE));
        refused("rope: x needs >= 1 head", () -> Attention.rope(zeros(T, 0, D), positions, ROPE));
        refused("rope: positions has 3 entries, expected 4", () -> Attention.rope(q, new int[] {0, 1, 2}, ROPE));
        refused("rope: rotaryDim 32 exceeds the head dim 16", () -> Attention.rope(q, positions, new Attention.Rope(32, 10000f, Attention.RopeStyle.NEOX)));
        refused("rope: positions must be >= 0, got -1", () -> Attention.rope(q, new int[] {0, 1, -1, 3}, ROPE));
    }

    @Test
    void appendKv() {
        long[] slots = {0, 1, 9, -1};
        int[] positions = {0, 1, 2, 3};
        Attention.appendKv(q, k, v, cache, slots, positions, ROPE);
        refused("appendKv: k has 3 tokens, expected 4", () -> Attention.appendKv(q, zeros(3, HKV, D), v, cache, slots, positions, ROPE));
        refused("appendKv: all tensors must have one dtype", () -> Attention.appendKv(q, zeros(cpu, DType.BF16, T, HKV, D), v, cache, slots, positions, ROPE));
        refused("appendKv: all tensors must be on one device", () -> Attention.appendKv(q, k, zeros(emu, DType.F32, T, HKV, D), cache, slots, positions, ROPE));
        refused("appendKv: v must match k", () -> Attention.appendKv(q, k, zeros(T, 1, D), cache, slots, positions, ROPE));
        refused("do not fit the cache's 2 kv heads of 16", () -> Attention.appendKv(zeros(T, 3, D), k, v, cache, slots, positions, ROPE));
        refused("do not fit the cache's 2 kv heads of 16", () -> Attention.appendKv(zeros(T, HQ, 8), zeros(T, HKV, 8), zeros(T, HKV, 8), cache, slots, positions, ROPE));
        refused("appendKv: slots has 3 entries, expected 4", () -> Attention.appendKv(q, k, v, cache, new long[] {0, 1, 2}, positions, ROPE));
        refused("appendKv: positions has 5 entries, expected 4", () -> Attention.appendKv(q, k, v, cache, slots, new int[] {0, 1, 2, 3, 4}, ROPE));
        refused("appendKv: rotaryDim 32 exceeds the head dim 16",
                () -> Attention.appendKv(q, k, v, cache, slots, positions, new Attention.Rope(32, 10000f, Attention.RopeStyle.NEOX)));
        refused("appendKv: slot 32 of token 2 is past the cache's 32 slots", () -> Attention.appendKv(q, k, v, cache, new long[] {0, 1, 32, -1}, positions, ROPE));
        refused("appendKv: slot 1 is written by two tokens", () -> Attention.appendKv(q, k, v, cache, new long[] {0, 1, 1, -1}, positions, ROPE));
        refused("appendKv: positions must be >= 0, got -2", () -> Attention.appendKv(q, k, v, cache, slots, new int[] {0, 1, -2, 3}, ROPE));
    }

    @Test
    void decode() {
        int[][] tables = {{0}, {1, 2}, {3}, {0}};
        int[] lens = {3, 12, 8, 1};
        Attention.decode(q, cache, tables, lens, 0.25f, -1, out, lse);
        refused("decode: all tensors must have one dtype", () -> Attention.decode(q, cache, tables, lens, 0.25f, -1, zeros(cpu, DType.BF16, T, HQ, D), lse));
        refused("decode: all tensors must be on one device", () -> Attention.decode(zeros(emu, DType.F32, T, HQ, D), cache, tables, lens, 0.25f, -1, out, lse));
        refused("decode: out must be a contiguous tensor shaped like q", () -> Attention.decode(q, cache, tables, lens, 0.25f, -1, transposedOut(), lse));
        refused("decode: lse must be a contiguous fp32 tensor [4, 4]", () -> Attention.decode(q, cache, tables, lens, 0.25f, -1, out, zeros(T, HQ + 1)));
        refused("decode: lse must be a contiguous fp32 tensor [4, 4]", () -> Attention.decode(q, cache, tables, lens, 0.25f, -1, out, zeros(cpu, DType.F16, T, HQ)));
        refused("decode: lse must be a contiguous fp32 tensor [4, 4] on cpu", () -> Attention.decode(q, cache, tables, lens, 0.25f, -1, out, zeros(emu, DType.F32, T, HQ)));
        refused("do not fit the cache's 2 kv heads of 16", () -> Attention.decode(zeros(T, 3, D), cache, tables, lens, 0.25f, -1, zeros(T, 3, D), zeros(T, 3)));
        refused("decode: seqLens has 3 entries, expected 4", () -> Attention.decode(q, cache, tables, new int[] {1, 1, 1}, 0.25f, -1, out, lse));
        for (float scale : new float[] {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY})
            refused("decode: scale must be positive and finite", () -> Attention.decode(q, cache, tables, lens, scale, -1, out, lse));
        refused("decode: blockTables has 3 rows for 4 sequences", () -> Attention.decode(q, cache, new int[][] {{0}, {1}, {2}}, lens, 0.25f, -1, out, lse));
        refused("decode: sequence 0 has -1 tokens", () -> Attention.decode(q, cache, tables, new int[] {-1, 12, 8, 1}, 0.25f, -1, out, lse));
    }

    @Test
    void prefill() {
        Attention.prefill(q, k, v, new int[] {0, 1, 4}, new int[] {0, 2, 4}, 0.25f, true, -1, out, lse);
        refused("prefill: k must be a contiguous fp32/fp16/bf16 tensor", () -> Attention.prefill(q, zeros(T, HKV * D), v, new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, out, lse));
        refused("prefill: all tensors must have one dtype", () -> Attention.prefill(q, k, v, new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, zeros(cpu, DType.F16, T, HQ, D), lse));
        refused("prefill: v must match k", () -> Attention.prefill(q, k, zeros(T + 1, HKV, D), new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, out, lse));
        refused("prefill: out must be a contiguous tensor shaped like q", () -> Attention.prefill(q, k, v, new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, zeros(T, HQ, 8, 2), lse));
        refused("query heads must be a multiple of kv heads, head dims equal",
                () -> Attention.prefill(zeros(T, 3, D), k, v, new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, zeros(T, 3, D), zeros(T, 3)));
        refused("query heads must be a multiple of kv heads, head dims equal",
                () -> Attention.prefill(q, zeros(T, HKV, 8), zeros(T, HKV, 8), new int[] {0, 4}, new int[] {0, 4}, 0.25f, true, -1, out, lse));
        refused("prefill: scale must be positive and finite", () -> Attention.prefill(q, k, v, new int[] {0, 4}, new int[] {0, 4}, 0f, true, -1, out, lse));
        refused("prefill: cuSeqlensQ and cuSeqlensK must both have batch + 1 entries", () -> Attention.prefill(q, k, v, new int[] {0, 4}, new int[] {0, 2, 4}, 0.25f, true, -1, out, lse));
        refused("prefill: cuSeqlensQ and cuSeqlensK must both have batch + 1 entries", () -> Attention.prefill(q, k, v, new int[0], new int[0], 0.25f, true, -1, out, lse));
        refused("prefill: cuSeqlensQ must start at 0 and end at 4", () -> Attention.prefill(q, k, v, new int[] {1, 4}, new int[] {0, 4}, 0.25f, true, -1, out, lse));
        refused("prefill: cuSeqlensK must start at 0 and end at 4", () -> Attention.prefill(q, k, v, new int[] {0, 4}, new int[] {0, 3}, 0.25f, true, -1, out, lse));
        refused("prefill: cuSeqlensQ must not decrease", () -> Attention.prefill(q, k, v, new int[] {0, 3, 2, 4}, new int[] {0, 1, 2, 4}, 0.25f, true, -1, out, lse));
    }

    @Test
    void prefillPaged() {
        int[][] tables = {{0, 1}, {2}};
        Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10, 5}, 0.25f, true, -1, out, lse);
        refused("prefillPaged: all tensors must have one dtype",
                () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10, 5}, 0.25f, true, -1, zeros(cpu, DType.BF16, T, HQ, D), lse));
        refused("prefillPaged: lse must be a contiguous fp32 tensor", () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10, 5}, 0.25f, true, -1, out, zeros(T)));
        refused("do not fit the cache's 2 kv heads of 16",
                () -> Attention.prefillPaged(zeros(T, 3, D), cache, new int[] {0, 3, 4}, tables, new int[] {10, 5}, 0.25f, true, -1, zeros(T, 3, D), zeros(T, 3)));
        refused("prefillPaged: scale must be positive and finite", () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10, 5}, Float.NaN, true, -1, out, lse));
        refused("prefillPaged: cuSeqlensQ must have batch + 1 entries", () -> Attention.prefillPaged(q, cache, new int[0], tables, new int[0], 0.25f, true, -1, out, lse));
        refused("prefillPaged: cuSeqlensQ must start at 0 and end at 4", () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 5}, tables, new int[] {10, 5}, 0.25f, true, -1, out, lse));
        refused("prefillPaged: seqLens has 1 entries, expected 2", () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10}, 0.25f, true, -1, out, lse));
        refused("prefillPaged: sequence 0 has 3 new queries but only 2 cached keys",
                () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {2, 5}, 0.25f, true, -1, out, lse));
        refused("prefillPaged: sequence 1 has 9 tokens but 1 blocks of 8",
                () -> Attention.prefillPaged(q, cache, new int[] {0, 3, 4}, tables, new int[] {10, 9}, 0.25f, true, -1, out, lse));
    }
}
