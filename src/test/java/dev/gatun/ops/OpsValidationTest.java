package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong input is refused in Java, before any native call, with a message naming the argument. */
class OpsValidationTest {
    private final Device cpu = Devices.get("cpu");
    private final Device emu = Devices.get("emu");

    private static void refused(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should mention '" + expected + "'");
    }

    @Test
    void wrongDtypesShapesAndDevicesAreNamed() {
        try (Tensor ints = Tensor.of(cpu, new int[] {1, 2, 3, 4}, 2, 2);
             Tensor x = Tensor.empty(cpu, DType.F32, 2, 4);
             Tensor half = Tensor.empty(cpu, DType.F16, 2, 4);
             Tensor wrongShape = Tensor.empty(cpu, DType.F32, 2, 5);
             Tensor onEmu = Tensor.empty(emu, DType.F32, 2, 4);
             Tensor weight3 = Tensor.empty(cpu, DType.F32, 3);
             Tensor sums = Tensor.empty(cpu, DType.F16, 2)) {
            refused("x has dtype int32", () -> Ops.softmax(ints));
            refused("out must match x", () -> Ops.softmax(x, half));
            refused("out must match x", () -> Ops.softmax(x, wrongShape));
            refused("one device", () -> Ops.softmax(x, onEmu));
            refused("weight must be a contiguous fp32 vector of 4", () -> Ops.rmsNorm(x, weight3, 1e-5f));
            refused("eps", () -> Ops.rmsNorm(x, Tensor.empty(cpu, DType.F32, 4), -1f));
            refused("out must be a contiguous fp32 tensor of shape [2]", () -> Ops.rowSum(x, sums));
            try (Tensor transposed = x.transpose(0, 1)) {
                refused("last dimension must be contiguous", () -> Ops.softmax(transposed));
            }
        }
    }

    /** The parameter limits are inclusive: at the limit accepted, one past refused by name (PIT showed none were tested). */
    @Test
    void limitsAreInclusive() {
        new Attention.Rope(512, 10000f, Attention.RopeStyle.NEOX);
        new Attention.Rope(0, 10000f, Attention.RopeStyle.NEOX);
        refused("rotaryDim must be even and in [0, 512]", () -> new Attention.Rope(514, 10000f, Attention.RopeStyle.NEOX));
        refused("rotaryDim must be even and in [0, 512]", () -> new Attention.Rope(-2, 10000f, Attention.RopeStyle.NEOX));
        new Attention.Rope(64, 1.001f, Attention.RopeStyle.NEOX);
        refused("theta must be > 1", () -> new Attention.Rope(64, 1f, Attention.RopeStyle.NEOX));
        Attention.RopeScaling.llama3(8, 1, 1.001f, 1);
        refused("low_freq_factor < high_freq_factor", () -> Attention.RopeScaling.llama3(8, 2, 2, 8192));
        refused("original_max_position_embeddings >= 1", () -> Attention.RopeScaling.llama3(8, 1, 4, 0));
        refused("factor must be > 0", () -> Attention.RopeScaling.linear(0));

        for (int blockSize : new int[] {8, 256}) {
            try (Tensor k = Tensor.empty(cpu, DType.F32, 2, blockSize, 1, 8); Tensor v = Tensor.empty(cpu, DType.F32, 2, blockSize, 1, 8)) {
                new Attention.PagedKv(k, v);
            }
        }
        for (int blockSize : new int[] {4, 512, 24}) {
            try (Tensor k = Tensor.empty(cpu, DType.F32, 1, blockSize, 1, 8); Tensor v = Tensor.empty(cpu, DType.F32, 1, blockSize, 1, 8)) {
                refused("block size must be a power of two in [8, 256]", () -> new Attention.PagedKv(k, v));
            }
        }

        // decode: a sequence filling its blocks exactly; entries past the blocks it needs are not read (any value)
        try (Tensor k = Tensor.empty(cpu, DType.F32, 3, 8, 1, 8); Tensor v = Tensor.empty(cpu, DType.F32, 3, 8, 1, 8);
             Tensor q = Tensor.empty(cpu, DType.F32, 1, 1, 8); Tensor out = Tensor.empty(cpu, DType.F32, 1, 1, 8);
             Tensor lse = Tensor.empty(cpu, DType.F32, 1, 1)) {
            k.fillBytes((byte) 0);
            v.fillBytes((byte) 0);
            q.fillBytes((byte) 0);
            Attention.PagedKv cache = new Attention.PagedKv(k, v);
            Attention.decode(q, cache, new int[][] {{2, 0, -1, 99}}, new int[] {16}, 1f, -1, out, lse);
            assertArrayEquals(new float[8], out.toFloatArray(), "zero values average to zero");
            refused("has 17 tokens but 2 blocks", () -> Attention.decode(q, cache, new int[][] {{2, 0}}, new int[] {17}, 1f, -1, out, lse));
            refused("names block 3; the cache has 3", () -> Attention.decode(q, cache, new int[][] {{3}}, new int[] {1}, 1f, -1, out, lse));
            refused("names block -1", () -> Attention.decode(q, cache, new int[][] {{-1}}, new int[] {8}, 1f, -1, out, lse));
        }

        // row sums of integers or into another device's memory
        try (Tensor ints = Tensor.of(cpu, new int[] {1, 2}, 1, 2); Tensor x = Tensor.empty(cpu, DType.F32, 1, 2);
             Tensor emuSums = Tensor.empty(emu, DType.F32, 1)) {
            refused("x has dtype int32", () -> Ops.rowSum(ints));
            refused("one device", () -> Ops.rowSum(x, emuSums));
        }
        // sampling: a vocabulary of one always gives token 0; zero uniforms are an empty array
        try (Tensor one = Tensor.of(cpu, DType.F32, new float[] {3f}, 1, 1)) {
            assertArrayEquals(new int[] {0}, Sampling.sample(one, new Sampling.Params[] {new Sampling.Params(1f, 0, 1f, 7)}, new long[] {0}));
        }
        assertArrayEquals(new float[0], Sampling.uniforms(cpu, 1, 0, 0));
        refused("n must be >= 0", () -> Sampling.uniforms(cpu, 1, 0, -1));
    }

    /** Patch moves check the tokens' shape, dtype, device and layout; adaLN's two vectors must share a row stride. */
    @Test
    void ditOpsRefuseMismatchedTokensAndStrides() {
        try (Tensor latent = Tensor.empty(cpu, DType.F32, 1, 4, 2, 4, 4);
             Tensor wrongShape = Tensor.empty(cpu, DType.F32, 1, 2, 4, 15);
             Tensor wrongDtype = Tensor.empty(cpu, DType.BF16, 1, 2, 4, 16);
             Tensor onEmu = Tensor.empty(emu, DType.F32, 1, 2, 4, 16);
             Tensor wide = Tensor.empty(cpu, DType.F32, 1, 2, 4, 32);
             Tensor strided = wide.slice(3, 0, 16);
             Tensor ints = Tensor.of(cpu, new int[128], 1, 4, 2, 4, 4)) {
            for (Tensor bad : new Tensor[] {wrongShape, wrongDtype, onEmu, strided}) {
                refused("patchify: tokens must be a contiguous fp32 [1, 2, 4, 16] on " + cpu, () -> DitOps.patchify(latent, bad, 1, 2, 2));
                refused("unpatchify: tokens must be a contiguous fp32 [1, 2, 4, 16]", () -> DitOps.unpatchify(bad, latent, 1, 2, 2));
            }
            refused("the latent must be a contiguous fp32, fp16 or bf16 tensor", () -> DitOps.patchify(ints, 1, 2, 2));
        }
        int batch = 2, tokens = 3, dim = 8;
        try (Tensor x = Tensor.empty(cpu, DType.F32, batch, tokens, dim);
             Tensor mod = Tensor.empty(cpu, DType.F32, batch, 3 * dim);
             Tensor shift = mod.slice(1, 0, dim);
             Tensor scale = Tensor.empty(cpu, DType.F32, batch, dim)) {
            refused("shift and scale must have one row stride, got " + 3 * dim + " and " + dim, () -> DitOps.adaLayerNorm(x, shift, scale, 1e-6f, x));
        }
    }

    /** Each check of the transformer glue ops, one wrong argument at a time against a call that runs. */
    @Test
    void everyCheckOfTheGlueOps() {
        try (Tensor x = Tensor.empty(cpu, DType.F32, 2, 8); Tensor w = Tensor.empty(cpu, DType.F32, 8); Tensor out = Tensor.empty(cpu, DType.F32, 2, 8);
             Tensor ints = Tensor.of(cpu, new int[16], 2, 8); Tensor scalar = Tensor.empty(cpu, DType.F32);
             Tensor onEmu = Tensor.empty(emu, DType.F32, 2, 8); Tensor wOnEmu = Tensor.empty(emu, DType.F32, 8);
             Tensor half = Tensor.empty(cpu, DType.F16, 2, 8); Tensor wide = Tensor.empty(cpu, DType.F32, 2, 16);
             Tensor strided = wide.slice(1, 0, 8); Tensor proj = Tensor.empty(cpu, DType.F32, 3, 8);
             Tensor projOut = Tensor.empty(cpu, DType.F32, 2, 3); Tensor bias = Tensor.empty(cpu, DType.F32, 3);
             Tensor gateUp = Tensor.empty(cpu, DType.F32, 2, 16); Tensor odd = Tensor.empty(cpu, DType.F32, 2, 7);
             Tensor table = Tensor.empty(cpu, DType.F32, 10, 8); Tensor transposed = out.transpose(0, 1);
             Tensor biasOnEmu = wOnEmu.slice(0, 0, 3)) {
            for (Tensor t : new Tensor[] {x, w, out, proj, bias, gateUp, table}) t.fillBytes((byte) 0);
            Ops.rmsNorm(x, w, 1e-6f, out);
            refused("rmsNorm: x has dtype int32", () -> Ops.rmsNorm(ints, w, 1e-6f, out));
            refused("rmsNorm: x must have at least one dimension", () -> Ops.rmsNorm(scalar, w, 1e-6f, out));
            refused("rmsNorm: all tensors must be on one device", () -> Ops.rmsNorm(x, wOnEmu, 1e-6f, out));
            refused("rmsNorm: all tensors must be on one device", () -> Ops.rmsNorm(x, w, 1e-6f, onEmu));
            refused("rmsNorm: out must match x", () -> Ops.rmsNorm(x, w, 1e-6f, half));
            refused("rmsNorm: eps must be a positive finite number", () -> Ops.rmsNorm(x, w, Float.NaN, out));

            Ops.linear(x, proj, bias, projOut);
            refused("linear: x has dtype int32", () -> Ops.linear(ints, proj, null, projOut));
            refused("linear: all tensors must be on one device", () -> Ops.linear(x, proj, null, onEmu));
            refused("linear: w must be a contiguous fp32 [outFeatures, 8] tensor", () -> Ops.linear(x, transposed, null, projOut));
            refused("linear: bias must be a fp32 vector of 3", () -> Ops.linear(x, proj, w, projOut));
            refused("linear: bias must be a fp32 vector of 3 on cpu", () -> Ops.linear(x, proj, biasOnEmu, projOut));
            refused("linear: out must be fp32 [2, 3]", () -> Ops.linear(x, proj, bias, out));
            try (Tensor empty = Tensor.empty(cpu, DType.F32, 2, 0); Tensor w0 = Tensor.empty(cpu, DType.F32, 3, 0)) {
                refused("linear: x has no input features", () -> Ops.linear(empty, w0, null, projOut));
            }

            Ops.add(x, x, out);
            refused("add: a has dtype int32", () -> Ops.add(ints, x, out));
            refused("add: all tensors must be on one device", () -> Ops.add(x, onEmu, out));
            refused("add: b must match x", () -> Ops.add(x, half, out));
            refused("add: out must match x", () -> Ops.add(x, x, projOut));
            refused("add: tensors must be contiguous", () -> Ops.add(x, strided, out));

            Ops.siluMul(gateUp, out);
            refused("siluMul: x has dtype int32", () -> Ops.siluMul(ints, out));
            refused("siluMul: all tensors must be on one device", () -> Ops.siluMul(gateUp, onEmu));
            refused("siluMul: tensors must be contiguous", () -> Ops.siluMul(gateUp, strided));
            refused("siluMul: x's last dimension must be even", () -> Ops.siluMul(odd, out));
            refused("siluMul: x's last dimension must be even ([gate | up]) and out fp32 [2, 8]", () -> Ops.siluMul(gateUp, projOut));

            Ops.geluTanh(x, out);
            refused("geluTanh: x has dtype int32", () -> Ops.geluTanh(ints, out));
            refused("geluTanh: all tensors must be on one device", () -> Ops.geluTanh(x, onEmu));
            refused("geluTanh: out must match x", () -> Ops.geluTanh(x, half));
            refused("geluTanh: tensors must be contiguous", () -> Ops.geluTanh(strided, out));

            try (Tensor rows = Ops.embedding(new int[] {0, 9}, table)) {
                assertArrayEquals(new long[] {2, 8}, rows.shape());
            }
            refused("embedding: table has dtype int32", () -> Ops.embedding(new int[] {0}, ints));
            refused("embedding: table must be a contiguous [vocab, hidden] tensor", () -> Ops.embedding(new int[] {0}, w));
            refused("embedding: token id 10 at position 1 is outside the vocabulary [0, 10)", () -> Ops.embedding(new int[] {0, 10}, table));
            refused("embedding: token id -1 at position 0", () -> Ops.embedding(new int[] {-1}, table));
        }
    }

    /** The ops that allocate their result free it when the call is refused: nothing leaks from a bad call. */
    @Test
    void refusedAllocatingCallsLeakNothing() {
        try (Tensor x = Tensor.empty(cpu, DType.F32, 4, 8); Tensor w = Tensor.empty(cpu, DType.F32, 5); Tensor ints = Tensor.of(cpu, new int[8], 8)) {
            long before = cpu.allocator().stats().inUseBytes();
            refused("weight must be a contiguous fp32 vector of 8", () -> Ops.rmsNorm(x, w, 1e-6f));
            refused("w must be a contiguous fp32 [outFeatures, 8] tensor", () -> Ops.linear(x, w, null));
            refused("embedding: table has dtype int32", () -> Ops.embedding(new int[] {0}, ints));
            refused("token id 4 at position 0", () -> Ops.embedding(new int[] {4}, x));
            assertEquals(before, cpu.allocator().stats().inUseBytes(), "a refused call left memory allocated");
        }
    }

    @Test
    void emptyInputsAreFine() {
        for (Device device : new Device[] {cpu, emu}) {
            try (Tensor none = Tensor.empty(device, DType.F32, 0, 16); Tensor sums = Ops.rowSum(Tensor.empty(device, DType.F32, 3, 0))) {
                try (Tensor out = Ops.softmax(none)) {
                    assertArrayEquals(new long[] {0, 16}, out.shape());
                }
                assertArrayEquals(new float[] {0, 0, 0}, sums.toFloatArray(), "the sum of an empty row is 0");
            }
        }
    }
}
